package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	recording "github.com/graceline/graceline/agent/record"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/test/harness"
)

// maxTerminationEvents is the goal for an ordinary one-container
// pod's termination: its events from the deletion to the summary, the
// shipped history included.
const maxTerminationEvents = 25

// killRows is what a SIGKILL at the grace deadline adds to a termination of
// TestBusyNode's pods: the SIGKILL to the shell, generated and delivered,
// the same to its running sleep as its PID namespace goes, and that sleep's
// exit. A loaded node can be late with a pod's trap; such a termination is
// not an ordinary one, and is held to the goal plus these rows.
const killRows = 5

// TestRecordingPolicy: a pod whose shell loop forks a sleep every second
// for over ten seconds records a handful of events before its deletion (its
// init processes' and the runtime's), and its termination in full within
// the goal: the loop's exits wait in a bounded history that is shipped when
// the window opens, runc init's threads' SIGKILLs are left out, and the
// pause's repeated SIGKILL is one row with a count.
func TestRecordingPolicy(t *testing.T) {
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			metrics := freeAddr(t)
			agent := startAgent(t, "--cri-endpoint", c.Endpoint(), "--metrics-address", metrics)
			agent.waitLog(t, 30*time.Second, "msg=sources")
			ctx := context.Background()
			spec := newSpec("chatty", 5, harness.ContainerSpec{Name: "main", Command: shell("trap 'exit 0' TERM; while true; do sleep 1; done")})
			pod, err := d.RunPod(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			waitStarted(t, agent, spec)
			// More sleeps than the history holds have ended once six of the
			// loop's exits were dropped outside the window (ten seconds of
			// it): by the kernel, which lets one through every ten seconds,
			// or by the policy, when the history is full.
			dropped := func() float64 {
				body := httpBody(t, "http://"+metrics+"/metrics")
				return counterValue(body, `graceline_events_dropped_total{reason="ebpf_`+probe.DropOutsideWindow+`"}`) +
					counterValue(body, `graceline_events_dropped_total{reason="`+recording.DroppedOutsideWindow+`"}`)
			}
			waitFor(t, 30*time.Second, "the history to overflow", func() bool { return dropped() >= 6 })
			before := agent.forPod(spec.UID)
			for _, e := range before {
				if e.Kind == apiv1.KindProcessExited || strings.HasPrefix(e.GetTarget().GetComm(), "runc:[") {
					t.Errorf("before the deletion, recorded %s", show(e))
				}
			}
			if len(before) > 6 {
				t.Errorf("%d events before the deletion, want at most 6 (lifecycle and init execs):\n%s", len(before), showAll(before))
			}

			if err := d.DeletePod(ctx, pod); err != nil {
				t.Fatal(err)
			}
			summaryOf(t, agent, spec.UID)
			all := agent.forPod(spec.UID)
			term := all[len(before):]
			var n int
			for _, e := range term {
				n++
				if e.Kind == apiv1.KindTerminationSummary {
					break
				}
			}
			t.Logf("%d events before the deletion, %d in the termination (goal %d):\n%s", len(before), n, maxTerminationEvents, showAll(term[:n]))
			if n > maxTerminationEvents {
				t.Errorf("%d events in the termination, want at most %d", n, maxTerminationEvents)
			}

			pid := find(all, apiv1.KindContainerStarted).GetProcess().GetPid()
			if findWhere(term, apiv1.KindSignalGenerated, signalTo(pid, "SIGTERM")) == nil {
				t.Errorf("no SIGTERM to the init, pid %d", pid)
			}
			var sleeps, pauseRows int
			for _, e := range term {
				switch {
				case e.Kind == apiv1.KindProcessExited && e.GetProcess().GetComm() == "sleep":
					sleeps++
				case e.Kind == apiv1.KindSignalDelivered && e.GetTarget().GetComm() == "pause":
					pauseRows++
					if e.Count < 2 {
						t.Errorf("the pause's SIGKILL row counts %d deliveries, want one per thread", e.Count)
					}
				case strings.HasPrefix(e.GetTarget().GetComm(), "runc:["):
					t.Errorf("recorded %s", show(e))
				}
			}
			if sleeps == 0 || sleeps > recording.DefaultHistory+2 {
				t.Errorf("%d of the loop's exits recorded, want the history (at most %d) and the ones in the window", sleeps, recording.DefaultHistory)
			}
			if pauseRows != 1 {
				t.Errorf("%d rows of the pause's SIGKILL, want one", pauseRows)
			}
		})
	}
}

func show(e *apiv1.Event) string {
	s := e.Kind
	switch {
	case e.Signal != nil:
		s += fmt.Sprintf(" %s to %d %s from %s", e.Signal.Name, e.GetTarget().GetTid(), e.GetTarget().GetComm(), e.GetSender().GetComm())
	case e.Process != nil:
		s += fmt.Sprintf(" %d %s", e.Process.Pid, e.Process.Comm)
	}
	if e.Count > 0 {
		s += fmt.Sprintf(" x%d", e.Count)
	}
	// The time and the container tell a late or misattributed row from the
	// termination's own when a count fails.
	return s + fmt.Sprintf("  [%s %s]", e.GetTime().AsTime().Format("15:04:05.000"), e.GetContainer().GetName())
}

func showAll(es []*apiv1.Event) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString("  " + show(e) + "\n")
	}
	return b.String()
}
