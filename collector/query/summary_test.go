package query

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

var t0 = time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)

func ev(kind string, d time.Duration, mod ...func(*apiv1.Event)) *apiv1.Event {
	e := &apiv1.Event{Kind: kind, Time: timestamppb.New(t0.Add(d)), Node: "n1",
		Pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}, Container: &apiv1.ContainerRef{Id: "c1", Name: "main"}}
	for _, m := range mod {
		m(e)
	}
	return e
}

func exit(code int32) func(*apiv1.Event) { return func(e *apiv1.Event) { e.ExitCode = &code } }

// started gives a container_started event the container's init process.
func started(pid int32) func(*apiv1.Event) {
	return func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: pid} }
}

// signal makes an event a signal to pid from a process in the container
// senderContainer (empty: from outside any container).
func signal(name string, pid int32, senderContainer string) func(*apiv1.Event) {
	return func(e *apiv1.Event) {
		e.Signal, e.Target, e.Sender = &apiv1.Signal{Name: name}, &apiv1.Task{Pid: pid}, &apiv1.Sender{Comm: "runc", ContainerId: senderContainer}
	}
}

func TestSummarize(t *testing.T) {
	cases := []struct {
		name        string
		events      []*apiv1.Event
		wantVerdict string
		wantKilled  bool
		wantPhases  []string
	}{
		{
			name: "the runtime's SIGKILL to the container's init means killed",
			events: []*apiv1.Event{ev(apiv1.KindContainerStarted, -time.Minute, started(42)),
				ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")), ev(apiv1.KindSignalGenerated, 3*time.Second, signal("SIGKILL", 42, "")),
				ev(apiv1.KindContainerExited, 3*time.Second, exit(137)), ev(apiv1.KindContainerStopped, 4*time.Second),
				ev(apiv1.KindSandboxStopped, 5*time.Second), ev(apiv1.KindContainerRemoved, 6*time.Second), ev(apiv1.KindSandboxRemoved, 7*time.Second)},
			wantVerdict: apiv1.VerdictKilled, wantKilled: true,
			wantPhases: []string{apiv1.PhaseStopSignal, apiv1.PhaseSIGKILL, apiv1.PhaseSandboxTeardown, apiv1.PhaseRemoval},
		},
		{
			name: "a SIGKILL from inside the container, as a dying init sends its namespace, is not killed",
			events: []*apiv1.Event{ev(apiv1.KindContainerStarted, -time.Minute, started(42)),
				ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")), ev(apiv1.KindSignalGenerated, 10*time.Millisecond, signal("SIGKILL", 42, "c1")),
				ev(apiv1.KindContainerExited, 20*time.Millisecond, exit(0)), ev(apiv1.KindSandboxStopped, time.Second)},
			wantVerdict: apiv1.VerdictGraceful, wantPhases: []string{apiv1.PhaseStopSignal, apiv1.PhaseSandboxTeardown},
		},
		{
			name: "a SIGKILL to another process than the container's init is not killed",
			events: []*apiv1.Event{ev(apiv1.KindContainerStarted, -time.Minute, started(42)),
				ev(apiv1.KindSignalGenerated, 0, signal("SIGKILL", 43, "")), ev(apiv1.KindSandboxStopped, time.Second)},
			wantVerdict: apiv1.VerdictGraceful,
		},
		{
			name: "an exit of 137 alone does not say the runtime killed",
			events: []*apiv1.Event{ev(apiv1.KindContainerExited, 0, exit(137)), ev(apiv1.KindContainerStopped, time.Second),
				ev(apiv1.KindSandboxStopped, 2*time.Second), ev(apiv1.KindSandboxRemoved, 3*time.Second)},
			wantVerdict: apiv1.VerdictGraceful, wantPhases: []string{apiv1.PhaseSandboxTeardown},
		},
		{
			name: "exits of their own before the sandbox stopped are graceful",
			events: []*apiv1.Event{ev(apiv1.KindContainerExited, 0, exit(0)), ev(apiv1.KindContainerStopped, time.Second),
				ev(apiv1.KindSandboxStopped, 2*time.Second)},
			wantVerdict: apiv1.VerdictGraceful, wantPhases: []string{apiv1.PhaseSandboxTeardown},
		},
		{
			name:        "a stuck report after the last progress means stuck",
			events:      []*apiv1.Event{ev(apiv1.KindContainerExited, 0, exit(0)), ev(apiv1.KindStuck, time.Minute)},
			wantVerdict: apiv1.VerdictStuck,
		},
		{
			name:        "progress after a stuck report ends being stuck",
			events:      []*apiv1.Event{ev(apiv1.KindStuck, 0), ev(apiv1.KindSandboxRemoved, time.Minute)},
			wantVerdict: apiv1.VerdictGraceful,
		},
		{
			name:   "a running pod has no verdict yet",
			events: []*apiv1.Event{ev(apiv1.KindContainerStarted, 0)},
		},
		{
			name: "the agent's own summary wins over a derived one",
			events: []*apiv1.Event{ev(apiv1.KindContainerExited, 0, exit(137)),
				ev(apiv1.KindTerminationSummary, time.Second, func(e *apiv1.Event) { e.Verdict = apiv1.VerdictGraceful })},
			wantVerdict: apiv1.VerdictGraceful,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Summarize(tc.events)
			if s.Kind != apiv1.KindTerminationSummary || s.Verdict != tc.wantVerdict || s.GetKilled() != tc.wantKilled {
				t.Errorf("summary = verdict %q killed %v, want %q %v", s.Verdict, s.GetKilled(), tc.wantVerdict, tc.wantKilled)
			}
			var names []string
			for _, p := range s.Phases {
				names = append(names, p.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.wantPhases, ",") {
				t.Errorf("phases %v, want %v", names, tc.wantPhases)
			}
			if s.GetPod().GetUid() != "u" || s.Node != "n1" {
				t.Errorf("summary names pod %v on %q", s.Pod, s.Node)
			}
		})
	}
}
