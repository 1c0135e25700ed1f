package cluster_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// TestMultiContainerPod deletes a three-container pod through the API: the
// real kubelet stops the containers in parallel and the agent reports one
// summary with each container's exit code.
func TestMultiContainerPod(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "multi")
	pod := busyboxPod(ns, "multi", exitsOnTerm, 3)
	scripts := map[string]string{"clean": exitsOnTerm, "three": "trap 'exit 3' TERM; sleep 3600 & wait", "stubborn": ignoresTerm}
	pod.Spec.Containers = nil
	for _, name := range []string{"clean", "three", "stubborn"} {
		c := busyboxContainer(scripts[name])
		c.Name = name
		pod.Spec.Containers = append(pod.Spec.Containers, c)
	}
	pod = createRunning(t, pod)
	uid := string(pod.UID)
	var pids []int32
	waitFor(t, runningTimeout, "agent: all three containers started", func() bool {
		pids = pids[:0]
		for _, e := range agent.forPod(uid) {
			if e.Kind == apiv1.KindContainerStarted {
				pids = append(pids, e.GetProcess().GetPid())
			}
		}
		return len(pids) == 3
	})
	// A SIGTERM that came before a shell set its trap would find a PID
	// namespace's init without a handler, and the kernel drops it.
	for _, pid := range pids {
		waitFor(t, 30*time.Second, fmt.Sprintf("pid %d to trap SIGTERM", pid), func() bool { return harness.HandlesSignal(pid, syscall.SIGTERM) })
	}
	deleteAndWaitGone(t, pod)
	s := summaryOf(t, pod)
	want := map[string]int32{"clean": 0, "three": 3, "stubborn": 137}
	if fmt.Sprint(s.ExitCodes) != fmt.Sprint(want) || !s.GetKilled() || s.Verdict != apiv1.VerdictKilled {
		t.Errorf("termination_summary: exit codes %v killed %v verdict %q, want %v, killed", s.ExitCodes, s.GetKilled(), s.Verdict, want)
	}
	var n int
	for _, e := range agent.forPod(uid) {
		if e.Kind == apiv1.KindTerminationSummary {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d termination summaries, want 1", n)
	}
}
