package agent

import (
	"slices"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestSummariesOnly(t *testing.T) {
	kinds := []string{apiv1.KindTerminationSummary, apiv1.KindContainerSummary, apiv1.KindStuck, apiv1.KindContainerInspected}
	cases := []struct {
		name string
		only bool
		want []string
	}{
		{"Without --summaries-only the correlator's evidence passes with its summaries.", false, kinds},
		{"With --summaries-only only summaries and stuck reports pass.", true, kinds[:3]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			emit := summariesOnly(func(e *apiv1.Event) { got = append(got, e.Kind) }, tc.only)
			for _, k := range kinds {
				emit(&apiv1.Event{Kind: k})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("passed %v, want %v", got, tc.want)
			}
		})
	}
}
