package cluster_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/graceline/graceline/agent/diagnose"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// TestCausesOnTheCluster deletes, under the real kubelet, pods that end in
// each of the ways people write containers, and reads each summary's cause
// and advice from the collector's API, as `kubectl graceline` does. The
// grace period is 3 s.
func TestCausesOnTheCluster(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		script string
		// limit is the container's memory limit; 0 is none.
		limit int64
		// ended says the container ends by itself before the delete,
		// which then waits for it.
		ended bool
		// traps says PID 1 sets a SIGTERM disposition the test waits for.
		traps bool
		want  string
	}{
		{name: "a shell PID 1 with no trap has the kernel drop its SIGTERM", script: "while :; do sleep 1; done", want: apiv1.CausePID1NoHandler},
		{name: "a trap that sleeps past the grace period is too slow", script: "trap 'sleep 30' TERM; while :; do sleep 0.2; done", traps: true, want: apiv1.CauseHandlerTooSlow},
		{name: "trap '' TERM ignores the signal", script: ignoresTerm, traps: true, want: apiv1.CauseSignalIgnored},
		{name: "a shell PID 1 that takes SIGTERM and forwards nothing leaves its child without a signal", script: "trap 'echo stopping' TERM; sleep 3600", traps: true, want: apiv1.CauseSignalNotForwarded},
		{name: "a container over its memory limit is OOM-killed", script: "sleep 1; exec tail /dev/zero", limit: 32 << 20, ended: true, want: apiv1.CauseOOMKilled},
		{name: "a container that exited before the delete", script: "sleep 1; exit 3", ended: true, want: apiv1.CauseExitedBeforeStop},
	}
	ns := newNamespace(t, "causes")
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := busyboxPod(ns, fmt.Sprintf("cause-%d", i), tc.script, 3)
			if tc.limit > 0 {
				pod.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: *resource.NewQuantity(tc.limit, resource.BinarySI)}
			}
			if tc.ended {
				pod = createEnded(t, pod)
			} else {
				pod = createRunning(t, pod)
			}
			if tc.traps {
				pid := find(agent.forPod(string(pod.UID)), apiv1.KindContainerStarted).GetProcess().GetPid()
				waitFor(t, 30*time.Second, fmt.Sprintf("pid %d to set its SIGTERM disposition", pid), func() bool { return harness.HandlesSignal(pid, syscall.SIGTERM) })
			}
			deleteAndWaitGone(t, pod)
			s := collectedSummary(t, pod)
			causes := s.GetCauses()
			t.Logf("%s: verdict %s, causes %v", pod.Name, s.Verdict, causes)
			if len(causes) != 1 || causes[0].Cause != tc.want || causes[0].GetContainer().GetName() != "main" {
				t.Fatalf("causes %v, want main=%s", causes, tc.want)
			}
			if causes[0].Advice == "" || len(causes[0].Facts) == 0 {
				t.Errorf("cause %s without advice or facts: %v", tc.want, causes[0])
			}
		})
	}
}

// TestABusyVolumeHoldsAPodTerminating keeps a pod's memory-backed emptyDir
// busy from the node, as a shell left in a volume's directory does: the
// kubelet cannot unmount it, the pod stays Terminating, and the agent's
// stuck report, read from the collector, names the holder, with the cause
// busy_mount blocking resource_release, also after the kubelet removed
// the pod's sandbox. Once the holder goes the kubelet's retry unmounts the
// volume and the pod completes.
func TestABusyVolumeHoldsAPodTerminating(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "busy")
	pod := busyboxPod(ns, "busy", exitsOnTerm, 3)
	pod.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
	pod = createRunning(t, pod)
	volume := filepath.Join(testCluster.KubeletRootDir(), "pods", string(pod.UID), "volumes", "kubernetes.io~empty-dir", "scratch")
	holder := exec.Command("sleep", "3600")
	holder.Dir = volume
	if err := holder.Start(); err != nil {
		t.Fatalf("start a process in %s: %v", volume, err)
	}
	held := true
	release := func() {
		if held {
			holder.Process.Kill()
			holder.Wait()
			held = false
		}
	}
	t.Cleanup(release)
	if err := client.CoreV1().Pods(ns).Delete(context.Background(), pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}

	want := fmt.Sprintf("sleep (pid %d)", holder.Process.Pid)
	var report *apiv1.Event
	var events []*apiv1.Event
	for deadline := time.Now().Add(2 * time.Minute); report == nil; time.Sleep(time.Second) {
		var err error
		events, _, err = collector.timeline(string(pod.UID))
		if err == nil {
			report = findWhere(events, apiv1.KindStuck, func(e *apiv1.Event) bool { return e.Source != apiv1.SourceAPI })
		}
		if report == nil && time.Now().After(deadline) {
			_, gone := client.CoreV1().Pods(ns).Get(context.Background(), pod.Name, metav1.GetOptions{})
			t.Fatalf("after 2m no stuck report from the agent naming %s (the pod's API lookup: %v; mounts of the pod now: %v); its timeline (last error %v):\n%s",
				want, gone, diagnose.MountsUnder("/proc/self/mountinfo", filepath.Dir(filepath.Dir(volume))), err, describe(events))
		}
	}
	t.Logf("stuck: blocking %s, causes %v, evidence:\n%s", report.BlockingPhase, report.Causes, strings.Join(report.Evidence, "\n"))
	busy := slices.IndexFunc(report.Causes, func(c *apiv1.ContainerCause) bool { return c.Cause == apiv1.StuckBusyMount })
	if busy < 0 || report.BlockingPhase != apiv1.PhaseResourceRelease {
		t.Fatalf("stuck report blocking %q with causes %v, want busy_mount blocking %s", report.BlockingPhase, report.Causes, apiv1.PhaseResourceRelease)
	}
	if c := report.Causes[busy]; !strings.HasPrefix(c.Advice, want) || !slices.ContainsFunc(c.Facts, func(f string) bool { return strings.Contains(f, want+" keeps it busy") }) {
		t.Errorf("busy_mount advice %q facts %q, want them to name %s", c.Advice, c.Facts, want)
	}
	out, err := collector.cli("stuck", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl graceline stuck -n %s:\n%s", ns, out)
	if !strings.Contains(out, "CAUSE       busy_mount") || !strings.Contains(out, "TRY         "+want) {
		t.Errorf("kubectl graceline stuck does not give the busy_mount cause and what to try with %s", want)
	}

	// The kubelet's garbage collector removes the sandbox of a terminated
	// pod while the volume still holds it Terminating: the pod stays stuck.
	waitFor(t, 2*time.Minute, "the kubelet to remove the sandbox of "+pod.Name, func() bool {
		events, _, err := collector.timeline(string(pod.UID))
		return err == nil && find(events, apiv1.KindSandboxRemoved) != nil
	})
	if out, err := collector.cli("stuck", "-n", ns); err != nil || !strings.Contains(out, "CAUSE       busy_mount") {
		t.Errorf("after the sandbox's removal, kubectl graceline stuck -n %s (%v):\n%s\nwant the pod still stuck on busy_mount", ns, err, out)
	}

	release()
	waitGone(t, pod)
	s := collectedSummary(t, pod)
	if s.Verdict != apiv1.VerdictGraceful {
		t.Errorf("final summary verdict %q, want graceful once the holder went", s.Verdict)
	}
}

// createEnded creates the pod and waits until its container has ended on
// its own; it returns the pod as the API has it.
func createEnded(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	var got *corev1.Pod
	waitFor(t, runningTimeout, "the container of "+pod.Name+" to end", func() bool {
		var err error
		got, err = client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		return err == nil && len(got.Status.ContainerStatuses) == 1 && got.Status.ContainerStatuses[0].State.Terminated != nil
	})
	return got
}

// collectedSummary waits for the collector's final summary of a deleted
// pod, with the API's part, and returns it.
func collectedSummary(t *testing.T, pod *corev1.Pod) *apiv1.Event {
	t.Helper()
	var s *apiv1.Event
	waitFor(t, collectorTimeout, "the collector's final summary of "+pod.Name, func() bool {
		events, _, err := collector.timeline(string(pod.UID))
		s = findWhere(events, apiv1.KindTerminationSummary, func(e *apiv1.Event) bool { return e.Source == apiv1.SourceAPI })
		return err == nil && s != nil
	})
	return s
}
