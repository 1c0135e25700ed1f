package summary

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

var t0 = time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)

func ev(kind string, d time.Duration, mod ...func(*apiv1.Event)) *apiv1.Event {
	e := &apiv1.Event{Kind: kind, Time: timestamppb.New(t0.Add(d)), Container: &apiv1.ContainerRef{Id: "c1", Name: "main"}}
	for _, m := range mod {
		m(e)
	}
	return e
}

func sig(name string, pid int32, senderContainer string) func(*apiv1.Event) {
	return func(e *apiv1.Event) {
		e.Signal, e.Target, e.Sender = &apiv1.Signal{Name: name}, &apiv1.Task{Pid: pid}, &apiv1.Sender{ContainerId: senderContainer}
	}
}

func api(e *apiv1.Event) { e.Source = apiv1.SourceAPI }

func TestTermination(t *testing.T) {
	cases := []struct {
		name string
		// pid is the container's init process as the runtime tells it;
		// 0 leaves it to container_started.
		pid         int32
		events      []*apiv1.Event
		wantKilled  bool
		wantVerdict string
		wantStart   time.Duration // -1: not begun
	}{
		{
			name: "the runtime's SIGKILL to the init process, known from container_started, is killed",
			events: []*apiv1.Event{ev(apiv1.KindContainerStarted, -time.Minute, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 7} }),
				ev(apiv1.KindSignalGenerated, time.Second, sig("SIGKILL", 7, "")), ev(apiv1.KindSandboxStopped, 2*time.Second)},
			wantKilled: true, wantVerdict: apiv1.VerdictKilled, wantStart: time.Second,
		},
		{
			name: "the runtime's SIGKILL to an init process the runtime listed is killed",
			pid:  7,
			events: []*apiv1.Event{ev(apiv1.KindSignalGenerated, time.Second, sig("SIGKILL", 7, "")),
				ev(apiv1.KindSandboxStopped, 2*time.Second)},
			wantKilled: true, wantVerdict: apiv1.VerdictKilled, wantStart: time.Second,
		},
		{
			name: "a SIGKILL named by its number only is a SIGKILL",
			pid:  7,
			events: []*apiv1.Event{ev(apiv1.KindSignalGenerated, time.Second, func(e *apiv1.Event) {
				e.Signal, e.Target = &apiv1.Signal{Number: 9}, &apiv1.Task{Pid: 7}
			}), ev(apiv1.KindSandboxStopped, 2*time.Second)},
			wantKilled: true, wantVerdict: apiv1.VerdictKilled, wantStart: time.Second,
		},
		{
			name: "a SIGKILL sent from inside the container is not killed",
			pid:  7,
			events: []*apiv1.Event{ev(apiv1.KindSignalGenerated, time.Second, sig("SIGKILL", 7, "c1")),
				ev(apiv1.KindSandboxStopped, 2*time.Second)},
			wantVerdict: apiv1.VerdictGraceful, wantStart: 2 * time.Second,
		},
		{
			name: "a SIGKILL to a process that is not the init is not killed",
			pid:  7,
			events: []*apiv1.Event{ev(apiv1.KindSignalGenerated, time.Second, sig("SIGKILL", 8, "")),
				ev(apiv1.KindSandboxStopped, 2*time.Second)},
			wantVerdict: apiv1.VerdictGraceful, wantStart: 2 * time.Second,
		},
		{
			name:        "an exit code of 137 alone is not killed",
			events:      []*apiv1.Event{ev(apiv1.KindContainerExited, 0, func(e *apiv1.Event) { c := int32(137); e.ExitCode = &c })},
			wantVerdict: "", wantStart: 0,
		},
		{
			name:        "events of the cluster side do not begin a termination",
			events:      []*apiv1.Event{ev(apiv1.KindSandboxStopped, 0, api)},
			wantVerdict: "", wantStart: -1,
		},
		{
			name: "a stuck report that is the latest news is stuck",
			pid:  7,
			events: []*apiv1.Event{ev(apiv1.KindSignalGenerated, 0, sig("SIGTERM", 7, "")),
				ev(apiv1.KindStuck, time.Minute)},
			wantVerdict: apiv1.VerdictStuck, wantStart: 0,
		},
		{
			name:        "an event with no container is no container's",
			events:      []*apiv1.Event{ev(apiv1.KindContainerExited, 0, func(e *apiv1.Event) { e.Container = nil })},
			wantVerdict: "", wantStart: -1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			term := New()
			if tc.pid != 0 {
				term.Container("c1", "main", tc.pid)
			}
			for _, e := range tc.events {
				term.Add(e)
			}
			s := &apiv1.Event{}
			term.Fill(s)
			if s.GetKilled() != tc.wantKilled || s.Verdict != tc.wantVerdict {
				t.Errorf("killed %v verdict %q, want %v %q", s.GetKilled(), s.Verdict, tc.wantKilled, tc.wantVerdict)
			}
			want := time.Time{}
			if tc.wantStart >= 0 {
				want = t0.Add(tc.wantStart)
			}
			if !term.Start().Equal(want) || (s.Since != nil) != !want.IsZero() {
				t.Errorf("start %v since %v, want %v", term.Start(), s.Since, want)
			}
		})
	}
}

func TestDone(t *testing.T) {
	at := func(s int) *timestamppb.Timestamp { return timestamppb.New(t0.Add(time.Duration(s) * time.Second)) }
	cases := []struct {
		name     string
		phases   []*apiv1.Phase
		want     time.Time
		wantNode time.Time
	}{
		{
			name: "the node is done at the end of its last phase but removal",
			phases: []*apiv1.Phase{{Name: apiv1.PhaseStopSignal, Start: at(0), End: at(1)},
				{Name: apiv1.PhaseResourceRelease, Start: at(2), End: at(3)}, {Name: apiv1.PhaseRemoval, Start: at(2), End: at(60)}},
			want: t0.Add(3 * time.Second), wantNode: t0.Add(3 * time.Second),
		},
		{
			name:     "a summary without phases is done at its own time",
			wantNode: t0.Add(time.Hour),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &apiv1.Event{Time: timestamppb.New(t0.Add(time.Hour)), Phases: tc.phases}
			if got, ok := Done(s); !got.Equal(tc.want) || ok == tc.want.IsZero() {
				t.Errorf("Done = %v, %v, want %v", got, ok, tc.want)
			}
			if got := NodeDone(s); !got.Equal(tc.wantNode) {
				t.Errorf("NodeDone = %v, want %v", got, tc.wantNode)
			}
		})
	}
}

func TestContainerTermination(t *testing.T) {
	cases := []struct {
		name        string
		events      []*apiv1.Event
		wantVerdict string
		wantKilled  bool
		wantEnd     time.Duration // -1: not ended
	}{
		{
			name:        "a container that exits after the runtime's SIGTERM ends gracefully with no sandbox stop",
			events:      []*apiv1.Event{ev(apiv1.KindSignalGenerated, 0, sig("SIGTERM", 7, "")), ev(apiv1.KindContainerExited, time.Second)},
			wantVerdict: apiv1.VerdictGraceful, wantEnd: time.Second,
		},
		{
			name: "a container the runtime had to SIGKILL is killed",
			events: []*apiv1.Event{ev(apiv1.KindSignalGenerated, 0, sig("SIGTERM", 7, "")),
				ev(apiv1.KindSignalGenerated, 2*time.Second, sig("SIGKILL", 7, "")), ev(apiv1.KindContainerExited, 2*time.Second)},
			wantVerdict: apiv1.VerdictKilled, wantKilled: true, wantEnd: 2 * time.Second,
		},
		{
			name:        "a container still running after SIGTERM has no verdict and has not ended",
			events:      []*apiv1.Event{ev(apiv1.KindSignalGenerated, 0, sig("SIGTERM", 7, ""))},
			wantVerdict: "", wantEnd: -1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			term := NewContainer("c1", "main", 7)
			for _, e := range tc.events {
				term.Add(e)
			}
			s := &apiv1.Event{}
			term.Fill(s)
			if s.Verdict != tc.wantVerdict || s.GetKilled() != tc.wantKilled {
				t.Errorf("verdict %q killed %v, want %q %v", s.Verdict, s.GetKilled(), tc.wantVerdict, tc.wantKilled)
			}
			want := time.Time{}
			if tc.wantEnd >= 0 {
				want = t0.Add(tc.wantEnd)
			}
			if !term.End().Equal(want) || term.Ended() == want.IsZero() {
				t.Errorf("end %v ended %v, want %v", term.End(), term.Ended(), want)
			}
		})
	}
}

func TestFold(t *testing.T) {
	other := func(e *apiv1.Event) { e.Container = &apiv1.ContainerRef{Id: "c2", Name: "main"} }
	cases := []struct {
		name      string
		events    []*apiv1.Event
		wantStart time.Duration // -1: not begun
	}{
		{
			name: "a restarted container's stop, covered by its container summary, does not begin the pod's termination",
			events: []*apiv1.Event{ev(apiv1.KindContainerStarted, -time.Minute, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 7} }),
				ev(apiv1.KindSignalGenerated, 0, sig("SIGTERM", 7, "")), ev(apiv1.KindContainerExited, time.Second),
				ev(apiv1.KindContainerSummary, time.Second),
				ev(apiv1.KindContainerStarted, 2*time.Second, other, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 8} })},
			wantStart: -1,
		},
		{
			name: "the pod's deletion after a restart begins at its own first sign",
			events: []*apiv1.Event{ev(apiv1.KindContainerStarted, -time.Minute, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 7} }),
				ev(apiv1.KindSignalGenerated, 0, sig("SIGTERM", 7, "")), ev(apiv1.KindContainerExited, time.Second),
				ev(apiv1.KindContainerSummary, time.Second),
				ev(apiv1.KindContainerStarted, 2*time.Second, other, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 8} }),
				ev(apiv1.KindSignalGenerated, time.Minute, other, sig("SIGTERM", 8, "")),
				ev(apiv1.KindContainerExited, time.Minute+time.Second, other)},
			wantStart: time.Minute,
		},
		{
			name: "without a container summary every stop is the pod's",
			events: []*apiv1.Event{ev(apiv1.KindContainerStarted, -time.Minute, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 7} }),
				ev(apiv1.KindSignalGenerated, 0, sig("SIGTERM", 7, "")), ev(apiv1.KindContainerExited, time.Second)},
			wantStart: 0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := time.Time{}
			if tc.wantStart >= 0 {
				want = t0.Add(tc.wantStart)
			}
			if got := Fold(tc.events).Start(); !got.Equal(want) {
				t.Errorf("start %v, want %v", got, want)
			}
		})
	}
}
