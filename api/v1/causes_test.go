package apiv1

import "testing"

func TestLookupCause(t *testing.T) {
	if c, ok := LookupCause(CauseSignalIgnored); !ok || c.Name != CauseSignalIgnored {
		t.Errorf("LookupCause(%q) = %+v, %v; want its row", CauseSignalIgnored, c, ok)
	}
	if c, ok := LookupCause("no_such_cause"); ok || c != (CauseInfo{}) {
		t.Errorf("LookupCause of an unknown cause = %+v, %v; want nothing", c, ok)
	}
}
