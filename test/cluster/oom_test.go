package cluster_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// oomsOnce makes its first container read /dev/zero with tail, which keeps
// one endless line in memory until the OOM killer kills the container, and
// the container the kubelet restarts it as (which finds the marker on the
// pod's emptyDir) wait quietly, so that there is one restart.
const oomsOnce = "if [ -e /data/once ]; then trap 'exit 0' TERM; sleep 3600 & wait; " +
	"else touch /data/once; tail /dev/zero; fi"

// TestOOMKillOnTheCluster lets the kernel OOM-kill a container over its
// memory limit under the real kubelet: the agent reports oom_killed from
// the kernel with the limit, the victim's SIGKILL as the kernel's, and one
// container_summary of the restart that says OOM; the pod is never
// reported stuck, and its later deletion is summarised from its own start.
func TestOOMKillOnTheCluster(t *testing.T) {
	t.Parallel()
	const limit = 32 << 20
	ns := newNamespace(t, "oom")
	pod := busyboxPod(ns, "oom", oomsOnce, 3)
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: *resource.NewQuantity(limit, resource.BinarySI)}
	pod = createRunning(t, pod)
	uid := string(pod.UID)

	kernelOOM := func(e *apiv1.Event) bool { return e.Reason == apiv1.ReasonSeenByKernel }
	waitFor(t, 2*time.Minute, "agent: the kernel's oom_killed and the restart's container_summary", func() bool {
		events := agent.forPod(uid)
		return findWhere(events, apiv1.KindOOMKilled, kernelOOM) != nil && find(events, apiv1.KindContainerSummary) != nil
	})
	events := agent.forPod(uid)
	oom := findWhere(events, apiv1.KindOOMKilled, kernelOOM)
	t.Logf("oom_killed: %v", oom)
	victim := oom.GetProcess().GetPid()
	if oom.GetContainer().GetName() != "main" || oom.GetPod().GetUid() != uid || victim == 0 {
		t.Errorf("oom_killed about container %v of pod %v, victim %d; want main of %s and a victim", oom.GetContainer(), oom.GetPod(), victim, uid)
	}
	if s := oom.GetSender(); s.GetKernel() != apiv1.SenderOOMKiller {
		t.Errorf("oom_killed sender = %v, want the OOM killer", s)
	}
	if m := oom.GetMemory(); m.GetLimitBytes() != limit {
		t.Errorf("oom_killed memory = %v, want the %d-byte limit", m, limit)
	}
	kill := findWhere(events, apiv1.KindSignalGenerated, signalTo(victim, "SIGKILL"))
	if kill == nil {
		t.Fatalf("no SIGKILL generated for the victim %d: %v", victim, kinds(events))
	}
	if kill.GetSender().GetKernel() != apiv1.SenderKernel || kill.GetContainer().GetName() != "main" {
		t.Errorf("victim's SIGKILL = %v, want the kernel's, attributed to main", kill)
	}

	cs := find(events, apiv1.KindContainerSummary)
	t.Logf("container summary: %v", cs)
	var line string
	for _, e := range cs.GetEvidence() {
		if strings.Contains(e, "OOM killer") {
			line = e
		}
	}
	// The kernel's oom_killed precedes the exit that opens the restart's
	// termination; its victim and limit are carried into the summary.
	want := fmt.Sprintf("container main was killed by the OOM killer: %s (pid %d)", oom.GetProcess().GetComm(), victim)
	if cs.GetContainer().GetName() != "main" || !cs.GetOomKilled() || !strings.HasPrefix(line, want) || !strings.Contains(line, "limit") {
		t.Errorf("container summary of %q oom_killed %v, evidence %q; want main, OOM-killed, evidence starting %q with the limit",
			cs.GetContainer().GetName(), cs.GetOomKilled(), cs.GetEvidence(), want)
	}
	if cs.GetKilled() {
		t.Errorf("container summary says the runtime killed main; the kernel did")
	}

	// A restart taken for a deletion would be reported stuck 33 s after its
	// start (grace 3 s plus the agent's 30 s slack).
	time.Sleep(time.Until(oom.GetTime().AsTime().Add(40 * time.Second)))
	for _, e := range agent.forPod(uid) {
		if e.Kind == apiv1.KindStuck || e.Kind == apiv1.KindTerminationSummary {
			t.Fatalf("after the OOM kill, before any deletion: %v", e)
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
