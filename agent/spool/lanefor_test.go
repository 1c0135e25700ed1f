package spool

import (
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestLaneForKeepsReportsInThePriorityLane(t *testing.T) {
	priority := map[string]bool{apiv1.KindTerminationSummary: true, apiv1.KindContainerSummary: true, apiv1.KindStuck: true, apiv1.KindEventsDropped: true,
		// A container's readiness is the agent's conclusion, as rare as a summary.
		apiv1.KindTerminationReadiness: true}
	kinds := []string{"no_such_kind"}
	for _, k := range apiv1.Kinds() {
		kinds = append(kinds, k.Name)
	}
	for _, kind := range kinds {
		t.Run("kind "+kind+" goes to its lane", func(t *testing.T) {
			want := laneRaw
			if priority[kind] {
				want = lanePriority
			}
			if got := laneFor(kind); got != want {
				t.Errorf("laneFor(%q) = %s, want %s", kind, laneNames[got], laneNames[want])
			}
		})
	}
}
