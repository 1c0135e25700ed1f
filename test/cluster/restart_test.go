package cluster_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// failsLivenessOnce makes its first container fail its liveness probe
// after 4 s, and the container the kubelet restarts it as (which finds the
// marker on the pod's emptyDir) stay healthy, so that there is one restart.
const failsLivenessOnce = "if [ -e /data/once ]; then touch /tmp/healthy; " +
	"else touch /data/once /tmp/healthy; (sleep 4; rm /tmp/healthy) & fi; " +
	"trap 'exit 0' TERM; sleep 3600 & wait"

// TestLivenessRestart lets the real kubelet restart a container whose exec
// liveness probe starts failing: the restart is one container_summary, the
// pod is never reported stuck (the agent's slack is 30 s past the 3 s
// grace), and the pod's later deletion is summarised from its own start.
func TestLivenessRestart(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "liveness")
	pod := busyboxPod(ns, "liveness", failsLivenessOnce, 3)
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	c.LivenessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}},
		PeriodSeconds: 1, FailureThreshold: 2, TimeoutSeconds: 1,
	}
	pod = createRunning(t, pod)
	uid := string(pod.UID)
	waitFor(t, 2*time.Minute, "agent: container_summary of the restart", func() bool {
		return find(agent.forPod(uid), apiv1.KindContainerSummary) != nil
	})
	cs := find(agent.forPod(uid), apiv1.KindContainerSummary)
	t.Logf("container summary: %v", cs)
	if cs.GetContainer().GetName() != "main" || cs.Verdict != apiv1.VerdictGraceful || cs.GetExitCode() != 0 {
		t.Errorf("container summary of %q verdict %q exit %d, want main, graceful, 0", cs.GetContainer().GetName(), cs.Verdict, cs.GetExitCode())
	}
	// A restart taken for a deletion is reported stuck 33 s after its
	// SIGTERM (grace 3 s plus the agent's 30 s slack).
	time.Sleep(40 * time.Second)
	for _, e := range agent.forPod(uid) {
		if e.Kind == apiv1.KindStuck || e.Kind == apiv1.KindTerminationSummary {
			t.Fatalf("after the restart, before any deletion: %v", e)
		}
	}
	deleted := deleteAndWaitGone(t, pod)
	s := summaryOf(t, pod)
	t.Logf("pod summary: %v", s)
	since, took := s.GetSince().AsTime(), s.GetTime().AsTime().Sub(s.GetSince().AsTime())
	if since.Before(deleted.Add(-time.Second)) || took > 15*time.Second {
		t.Errorf("pod summary since %v (deletion at %v), took %v: want the deletion's own few seconds", since, deleted, took)
	}
	n := 0
	for _, e := range agent.forPod(uid) {
		switch e.Kind {
		case apiv1.KindStuck:
			t.Errorf("stuck report %v", e)
		case apiv1.KindContainerSummary:
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d container summaries, want 1", n)
	}
}
