package apiv1

import "testing"

func TestLookupInitiator(t *testing.T) {
	if i, ok := LookupInitiator(InitiatorEviction); !ok || i.Name != InitiatorEviction {
		t.Errorf("LookupInitiator(%q) = %+v, %v; want its row", InitiatorEviction, i, ok)
	}
	if i, ok := LookupInitiator("no_such_initiator"); ok || i != (InitiatorInfo{}) {
		t.Errorf("LookupInitiator of an unknown initiator = %+v, %v; want nothing", i, ok)
	}
}
