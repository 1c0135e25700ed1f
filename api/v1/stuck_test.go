package apiv1

import (
	"slices"
	"testing"
)

func TestStuckCausesBlockRealPhases(t *testing.T) {
	phases := constants(t, "kinds.go", "Phase")
	for _, c := range StuckCauses() {
		if c.Phase != "" && !slices.Contains(phases, c.Phase) {
			t.Errorf("stuck cause %s blocks phase %q, which is no phase", c.Name, c.Phase)
		}
	}
	if StuckUnknown != CauseUnknown {
		t.Errorf("StuckUnknown is %q, CauseUnknown %q: one word for one thing", StuckUnknown, CauseUnknown)
	}
}
