package summary

import (
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestPodCause(t *testing.T) {
	cause := func(name, c string) *apiv1.ContainerCause {
		return &apiv1.ContainerCause{Container: &apiv1.ContainerRef{Name: name}, Cause: c}
	}
	tests := []struct {
		name   string
		causes []*apiv1.ContainerCause
		want   string // container name; "" for none
	}{
		{"A pod without causes has none.", nil, ""},
		{"A pod whose containers all exited on the signal speaks through its first.",
			[]*apiv1.ContainerCause{cause("a", apiv1.CauseExitedOnStopSignal), cause("b", apiv1.CauseExitedOnStopSignal)}, "a"},
		{"The first container that did not exit cleanly speaks for the pod.",
			[]*apiv1.ContainerCause{cause("a", apiv1.CauseExitedOnStopSignal), cause("b", apiv1.CauseSignalIgnored), cause("c", apiv1.CauseOOMKilled)}, "b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := PodCause(&apiv1.Event{Causes: tc.causes})
			if got.GetContainer().GetName() != tc.want {
				t.Errorf("PodCause = %v, want container %q", got, tc.want)
			}
		})
	}
}
