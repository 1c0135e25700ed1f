package apiv1

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestInitiatorTableHoldsEveryInitiatorOnce(t *testing.T) {
	var names []string
	for _, i := range Initiators() {
		if i.Title == "" {
			t.Errorf("initiator %s has no title", i.Name)
		}
		names = append(names, i.Name)
	}
	consts := constants(t, "initiators.go", "Initiator")
	slices.Sort(names)
	slices.Sort(consts)
	if !slices.Equal(names, slices.Compact(slices.Clone(names))) {
		t.Errorf("the table names an initiator twice: %v", names)
	}
	if !slices.Equal(names, consts) {
		t.Errorf("table initiators %v, want the constants of initiators.go %v", names, consts)
	}
}

func TestLookupInitiator(t *testing.T) {
	if i, ok := LookupInitiator(InitiatorEviction); !ok || i.Name != InitiatorEviction {
		t.Errorf("LookupInitiator(%q) = %+v, %v; want its row", InitiatorEviction, i, ok)
	}
	if i, ok := LookupInitiator("no_such_initiator"); ok || i != (InitiatorInfo{}) {
		t.Errorf("LookupInitiator of an unknown initiator = %+v, %v; want nothing", i, ok)
	}
}

// readmeInitiatorList is the README's paragraph that lists the initiators.
const readmeInitiatorList = "Initiators (`initiator`"

// TestReadmeListsEveryInitiator keeps the README's list of initiators equal
// to the table, in the table's order.
func TestReadmeListsEveryInitiator(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	text := string(b)
	i := strings.Index(text, readmeInitiatorList)
	if i < 0 {
		t.Fatalf("README.md has no paragraph starting %q", readmeInitiatorList)
	}
	para, _, _ := strings.Cut(text[i+len(readmeInitiatorList):], "\n\n")
	var got []string
	for _, m := range backtickedCause.FindAllStringSubmatch(para, -1) {
		got = append(got, m[1])
	}
	var want []string
	for _, in := range Initiators() {
		want = append(want, in.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("README.md lists the initiators as %v, want the table's %v", got, want)
	}
}
