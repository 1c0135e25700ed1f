package e2e

import (
	"context"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// TestContainerRestart restarts a pod's container through CRI as the
// kubelet does after a failed liveness probe (stop with the grace period, a
// new container of the same name in the same sandbox, the old one removed),
// then deletes the pod well after: the restart is one container_summary, the
// pod is never reported stuck, and the pod's summary begins with its
// deletion.
func TestContainerRestart(t *testing.T) {
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startSummaryAgent(t, c)
			spec := newSpec("restarted", 2, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm)})
			pod, err := d.RunPod(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			waitStarted(t, agent, spec)
			old := pod.Containers["main"]
			if _, err := d.RestartContainer(context.Background(), pod, "main", 1); err != nil {
				t.Fatal(err)
			}
			waitFor(t, summaryWait, "container_summary", func() bool { return hasKind(agent.forPod(spec.UID), apiv1.KindContainerSummary) })
			cs := find(agent.forPod(spec.UID), apiv1.KindContainerSummary)
			if cs.GetContainer().GetId() != old || cs.Verdict != apiv1.VerdictGraceful || cs.GetKilled() || cs.GetExitCode() != 0 {
				t.Errorf("container summary %v, want the old container %s, graceful, exit 0", cs, old)
			}
			// The agent reports stuck 2 s past the grace period (2 s): a
			// restart taken for a deletion would be reported by now.
			time.Sleep(8 * time.Second)
			if hasKind(agent.forPod(spec.UID), apiv1.KindStuck) || hasKind(agent.forPod(spec.UID), apiv1.KindTerminationSummary) {
				t.Fatalf("after a restart the pod was reported stuck or terminated: %v", kinds(agent.forPod(spec.UID)))
			}
			deleted := time.Now()
			if err := d.DeletePod(context.Background(), pod); err != nil {
				t.Fatal(err)
			}
			deletion := time.Since(deleted)
			s := summaryOf(t, agent, spec.UID)
			if since := s.GetSince().AsTime(); since.Before(deleted.Add(-time.Second)) {
				t.Errorf("pod summary since %v, before the deletion at %v: the restart was counted", since, deleted)
			}
			// The releases that follow the sandbox's removal come within a
			// second or two, however loaded the machine.
			if took := s.GetTime().AsTime().Sub(s.GetSince().AsTime()); took > deletion+3*time.Second {
				t.Errorf("pod summary took %v, want the deletion's own %v", took, deletion)
			}
			n := 0
			for _, e := range agent.forPod(spec.UID) {
				if e.Kind == apiv1.KindContainerSummary {
					n++
				}
				if e.Kind == apiv1.KindStuck {
					t.Errorf("stuck report %v", e)
				}
			}
			if n != 1 {
				t.Errorf("%d container summaries, want 1 (the deletion's stop is the pod's)", n)
			}
			t.Logf("container summary: %v\npod summary: %v", cs, s)
		})
	}
}
