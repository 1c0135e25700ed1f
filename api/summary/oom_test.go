package summary

import (
	"slices"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestOOMKill checks what a summary says of a container the OOM killer
// killed: the flag and an evidence line, from whichever source told it,
// while the kernel's SIGKILL never counts as the runtime's.
func TestOOMKill(t *testing.T) {
	u := func(n uint64) *uint64 { return &n }
	started := ev(apiv1.KindContainerStarted, -time.Minute, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 7} })
	kernelKill := ev(apiv1.KindSignalGenerated, -30*time.Second, func(e *apiv1.Event) {
		e.Signal, e.Target = &apiv1.Signal{Name: "SIGKILL"}, &apiv1.Task{Pid: 7}
		// The allocating task ran in another container: only the kernel
		// mark says the runtime did not send it.
		e.Sender = &apiv1.Sender{Pid: 20, Comm: "java", ContainerId: "c2", Kernel: apiv1.SenderKernel}
	})
	kernelOOM := ev(apiv1.KindOOMKilled, -30*time.Second, func(e *apiv1.Event) {
		e.Reason, e.Process = apiv1.ReasonSeenByKernel, &apiv1.Process{Pid: 7, Comm: "tail"}
		e.Memory = &apiv1.Memory{LimitBytes: u(16 << 20), UsageBytes: u(1 << 20), PeakBytes: u(16 << 20)}
	})
	runtimeOOM := ev(apiv1.KindOOMKilled, -29*time.Second, func(e *apiv1.Event) { e.Reason = apiv1.ReasonSeenByRuntime })
	exited := func(reason string) *apiv1.Event {
		return ev(apiv1.KindContainerExited, -29*time.Second, func(e *apiv1.Event) {
			code := int32(137)
			e.ExitCode, e.Reason = &code, reason
		})
	}
	stopped := ev(apiv1.KindSandboxStopped, time.Second)
	cases := []struct {
		name         string
		events       []*apiv1.Event
		wantOOM      bool
		wantEvidence []string
	}{
		{
			name:         "The kernel's report names the victim and the memory, and its SIGKILL is not the runtime's.",
			events:       []*apiv1.Event{started, kernelKill, kernelOOM, runtimeOOM, exited(apiv1.ReasonOOMKilled), stopped},
			wantOOM:      true,
			wantEvidence: []string{"note", "container main was killed by the OOM killer: tail (pid 7) (limit 16 MiB, peak 16 MiB)"},
		},
		{
			name:         "The runtime's report alone says that the container was OOM-killed.",
			events:       []*apiv1.Event{started, runtimeOOM, stopped},
			wantOOM:      true,
			wantEvidence: []string{"note", "container main was killed by the OOM killer"},
		},
		{
			name:         "An exit the runtime calls OOMKilled says so too.",
			events:       []*apiv1.Event{started, exited(apiv1.ReasonOOMKilled), stopped},
			wantOOM:      true,
			wantEvidence: []string{"note", "container main was killed by the OOM killer"},
		},
		{
			name:         "A pod nothing OOM-killed has neither the flag nor a line.",
			events:       []*apiv1.Event{started, exited(apiv1.ReasonError), stopped},
			wantEvidence: []string{"note"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			term := New()
			for _, e := range tc.events {
				term.Add(e)
			}
			// The caller's notes have room to spare, which Fill must not
			// write into.
			notes := make([]string, 1, 4)
			notes[0] = "note"
			s := &apiv1.Event{Evidence: notes}
			term.Fill(s)
			if s.GetOomKilled() != tc.wantOOM || (s.OomKilled != nil) != tc.wantOOM {
				t.Errorf("oom_killed = %v, want %v", s.OomKilled, tc.wantOOM)
			}
			if !slices.Equal(s.Evidence, tc.wantEvidence) {
				t.Errorf("evidence = %q, want %q", s.Evidence, tc.wantEvidence)
			}
			if s.GetKilled() || s.Verdict != apiv1.VerdictGraceful {
				t.Errorf("killed %v, verdict %q; want graceful: the runtime sent no SIGKILL", s.GetKilled(), s.Verdict)
			}
			if got := notes[:cap(notes)][1]; got != "" {
				t.Errorf("Fill wrote %q into the caller's notes", got)
			}
		})
	}
}
