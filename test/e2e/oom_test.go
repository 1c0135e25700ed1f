package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// TestOOMKill: a container with a 32 MiB memory limit starts tail on
// /dev/zero, which keeps one endless line in memory until the OOM killer
// kills it; the container's shell lives on. The agent reports oom_killed
// from the kernel, with the victim, the limit and the peak, and from the
// runtime; the SIGKILL is marked as the kernel's, although it was sent from
// the allocating task's context; and the pod's summary, once it is
// deleted, says that its container was OOM-killed and not that the runtime
// killed it.
func TestOOMKill(t *testing.T) {
	const limit = 32 << 20
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			skipWithoutMemoryController(t, f)
			c, d := startRuntime(t, f)
			agent := startSummaryAgent(t, c)
			if !strings.Contains(agent.logs(), ",ebpf") || strings.Contains(agent.logs(), "OOM kills are not followed in the kernel") {
				t.Fatalf("eBPF OOM probe not live:\n%s", agent.logs())
			}
			spec := newSpec("oom", 2, harness.ContainerSpec{Name: "main", MemoryLimit: limit,
				Command: shell("trap 'exit 0' TERM; tail /dev/zero; while :; do sleep 0.1; done")})
			ctx := context.Background()
			pod, err := d.RunPod(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			id := pod.Containers["main"]
			kernelOOM := func(e *apiv1.Event) bool { return e.Reason == apiv1.ReasonSeenByKernel }
			runtimeOOM := func(e *apiv1.Event) bool { return e.Reason == apiv1.ReasonSeenByRuntime }
			waitFor(t, 60*time.Second, "oom_killed from the kernel and the runtime", func() bool {
				events := agent.forPod(spec.UID)
				return findWhere(events, apiv1.KindOOMKilled, kernelOOM) != nil && findWhere(events, apiv1.KindOOMKilled, runtimeOOM) != nil
			})
			events := agent.forPod(spec.UID)
			oom := findWhere(events, apiv1.KindOOMKilled, kernelOOM)
			victim := oom.GetProcess().GetPid()
			if oom.Container.GetId() != id || oom.GetProcess().GetComm() != "tail" || victim == 0 {
				t.Errorf("kernel's oom_killed = %v, want tail in container %s", oom, id)
			}
			if s := oom.GetSender(); s.GetKernel() != apiv1.SenderOOMKiller || s.GetPid() == 0 {
				t.Errorf("oom_killed sender = %v, want the OOM killer in an allocating task's context", s)
			}
			if m := oom.GetMemory(); m.GetLimitBytes() != limit || m.PeakBytes == nil || m.GetPeakBytes() < limit*9/10 {
				t.Errorf("memory = %v, want the %d-byte limit and a peak near it", m, limit)
			}
			if r := findWhere(events, apiv1.KindOOMKilled, runtimeOOM); r.Container.GetId() != id {
				t.Errorf("runtime's oom_killed = %v, want container %s", r, id)
			}
			kill := findWhere(events, apiv1.KindSignalGenerated, signalTo(victim, "SIGKILL"))
			if kill == nil {
				t.Fatalf("no SIGKILL generated for the victim %d: %v", victim, kinds(events))
			}
			if kill.Sender.GetKernel() != apiv1.SenderKernel || kill.Container.GetId() != id {
				t.Errorf("victim's SIGKILL = %v, want the kernel's, attributed to container %s", kill, id)
			}
			if oom.Time.AsTime().Before(kill.Time.AsTime()) {
				t.Errorf("oom_killed at %s before its SIGKILL at %s", oom.Time.AsTime(), kill.Time.AsTime())
			}

			if err := d.DeletePod(ctx, pod); err != nil {
				t.Fatal(err)
			}
			s := summaryOf(t, agent, spec.UID)
			if !s.GetOomKilled() || s.GetVerdict() != apiv1.VerdictGraceful || s.GetKilled() {
				t.Errorf("summary oom_killed %v, verdict %q, killed %v; want OOM-killed, graceful and not killed by the runtime", s.GetOomKilled(), s.GetVerdict(), s.GetKilled())
			}
			var line string
			for _, e := range s.GetEvidence() {
				if strings.Contains(e, "OOM killer") {
					line = e
				}
			}
			if !strings.Contains(line, "container main was killed by the OOM killer: tail") || !strings.Contains(line, "limit 32 MiB") {
				t.Errorf("summary evidence %q, want the OOM kill of tail in main with its limit", s.GetEvidence())
			}
		})
	}
}

// skipWithoutMemoryController skips, loudly, a test that needs a memory
// limit on a flavor whose hierarchy has no memory controller: this host
// binds it to a v1 hierarchy, so the unified one cannot have it.
func skipWithoutMemoryController(t *testing.T, f harness.Flavor) {
	t.Helper()
	if f.Unified() {
		t.Skipf("!!! %s: this host binds the memory controller to its v1 hierarchy, so the unified one has none: no memory limit, no OOM kill; SKIPPING on this flavor only !!!", f)
	}
}
