package summary

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func causes(pairs ...string) *apiv1.Event {
	s := &apiv1.Event{Kind: apiv1.KindTerminationSummary}
	for i := 0; i+1 < len(pairs); i += 2 {
		s.Causes = append(s.Causes, &apiv1.ContainerCause{Container: &apiv1.ContainerRef{Name: pairs[i]}, Cause: pairs[i+1]})
	}
	return s
}

func TestPodCause(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *apiv1.Event
		want string
	}{
		{"a pod without causes has an unknown cause", causes(), apiv1.CauseUnknown},
		{"one container's cause is the pod's", causes("web", apiv1.CauseSignalIgnored), apiv1.CauseSignalIgnored},
		{"a forced end wins over a clean one whatever the names", causes("a", apiv1.CauseExitedOnStopSignal, "b", apiv1.CauseHandlerTooSlow), apiv1.CauseHandlerTooSlow},
		{"of two forced ends the first by name decides", causes("z", apiv1.CauseOOMKilled, "a", apiv1.CausePID1NoHandler), apiv1.CausePID1NoHandler},
		{"unknown wins over clean ends", causes("a", apiv1.CauseExitedOnStopSignal, "b", apiv1.CauseUnknown), apiv1.CauseUnknown},
		{"clean ends give the first container's", causes("b", apiv1.CauseExitedOnStopSignal, "a", apiv1.CauseExitedBeforeStop), apiv1.CauseExitedBeforeStop},
		{"a cause outside the closed set counts as unknown", causes("a", "made_up"), apiv1.CauseUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PodCauseName(tc.s); got != tc.want {
				t.Errorf("PodCauseName = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPodCauseIsTheContainerToChange(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *apiv1.Event
		want string // the container; "" for none
	}{
		{"a pod without causes has none", causes(), ""},
		{"a pod whose containers all exited on the signal speaks through its first by name", causes("b", apiv1.CauseExitedOnStopSignal, "a", apiv1.CauseExitedOnStopSignal), "a"},
		{"the first container by name that did not end cleanly speaks for the pod, with its advice", causes("c", apiv1.CauseOOMKilled, "a", apiv1.CauseExitedOnStopSignal, "b", apiv1.CauseSignalIgnored), "b"},
		{"an unknown end speaks over clean ones", causes("a", apiv1.CauseExitedOnStopSignal, "b", apiv1.CauseUnknown), "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PodCause(tc.s).GetContainer().GetName(); got != tc.want {
				t.Errorf("PodCause's container = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSpan(t *testing.T) {
	phase := func(name string, from, to time.Duration) *apiv1.Phase {
		return &apiv1.Phase{Name: name, Start: timestamppb.New(t0.Add(from)), End: timestamppb.New(t0.Add(to))}
	}
	for _, tc := range []struct {
		name   string
		phases []*apiv1.Phase
		want   time.Duration
		ok     bool
	}{
		{"no phase gives no span", nil, 0, false},
		{"one phase spans itself", []*apiv1.Phase{phase(apiv1.PhaseStopSignal, time.Second, 3*time.Second)}, 2 * time.Second, true},
		{"the span runs from the first start to the last end", []*apiv1.Phase{
			phase(apiv1.PhaseStopSignal, 2*time.Second, 3*time.Second),
			phase(apiv1.PhasePreStop, 0, 2*time.Second),
			phase(apiv1.PhaseRemoval, 4*time.Second, 9*time.Second),
		}, 9 * time.Second, true},
		{"a phase without an end is skipped", []*apiv1.Phase{{Name: apiv1.PhasePreStop, Start: timestamppb.New(t0)}, phase(apiv1.PhaseStopSignal, time.Second, 2*time.Second)}, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Span(&apiv1.Event{Phases: tc.phases})
			if got != tc.want || ok != tc.ok {
				t.Errorf("Span = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
