package query

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

var t0 = time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)

func ev(kind string, d time.Duration, mod ...func(*apiv1.Event)) *apiv1.Event {
	e := &apiv1.Event{Kind: kind, Time: timestamppb.New(t0.Add(d)), Node: "n1",
		Pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}, Container: &apiv1.ContainerRef{Name: "main"}}
	for _, m := range mod {
		m(e)
	}
	return e
}

func exit(code int32) func(*apiv1.Event) { return func(e *apiv1.Event) { e.ExitCode = &code } }

func TestSummarize(t *testing.T) {
	cases := []struct {
		name        string
		events      []*apiv1.Event
		wantVerdict string
		wantKilled  bool
		wantPhases  int
	}{
		{
			name: "an exit of 137 means SIGKILL was needed",
			events: []*apiv1.Event{ev(apiv1.KindContainerExited, 0, exit(137)), ev(apiv1.KindContainerStopped, time.Second),
				ev(apiv1.KindSandboxStopped, 2*time.Second), ev(apiv1.KindSandboxRemoved, 3*time.Second)},
			wantVerdict: apiv1.VerdictKilled, wantKilled: true, wantPhases: 2,
		},
		{
			name: "a SIGKILL seen by the kernel probes means killed",
			events: []*apiv1.Event{ev(apiv1.KindSignalGenerated, 0, func(e *apiv1.Event) { e.Signal = &apiv1.Signal{Number: 9} }),
				ev(apiv1.KindSandboxStopped, time.Second)},
			wantVerdict: apiv1.VerdictKilled, wantKilled: true,
		},
		{
			name: "exits of their own before the sandbox stopped are graceful",
			events: []*apiv1.Event{ev(apiv1.KindContainerExited, 0, exit(0)), ev(apiv1.KindContainerStopped, time.Second),
				ev(apiv1.KindSandboxStopped, 2*time.Second)},
			wantVerdict: apiv1.VerdictGraceful, wantPhases: 1,
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
			if s.Kind != apiv1.KindTerminationSummary || s.Verdict != tc.wantVerdict || s.GetKilled() != tc.wantKilled || len(s.Phases) != tc.wantPhases {
				t.Errorf("summary = verdict %q killed %v phases %d, want %q %v %d", s.Verdict, s.GetKilled(), len(s.Phases), tc.wantVerdict, tc.wantKilled, tc.wantPhases)
			}
			if s.GetPod().GetUid() != "u" || s.Node != "n1" {
				t.Errorf("summary names pod %v on %q", s.Pod, s.Node)
			}
		})
	}
}
