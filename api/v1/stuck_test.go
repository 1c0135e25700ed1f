package apiv1

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestStuckCauseTableHoldsEveryCauseOnce(t *testing.T) {
	phases := constants(t, "kinds.go", "Phase")
	var names []string
	for _, c := range StuckCauses() {
		if c.Title == "" {
			t.Errorf("stuck cause %s has no title", c.Name)
		}
		if c.Phase != "" && !slices.Contains(phases, c.Phase) {
			t.Errorf("stuck cause %s blocks phase %q, which is no phase", c.Name, c.Phase)
		}
		names = append(names, c.Name)
	}
	consts := constants(t, "stuck.go", "Stuck")
	slices.Sort(names)
	slices.Sort(consts)
	if !slices.Equal(names, slices.Compact(slices.Clone(names))) {
		t.Errorf("the table names a stuck cause twice: %v", names)
	}
	if !slices.Equal(names, consts) {
		t.Errorf("table stuck causes %v, want the constants of stuck.go %v", names, consts)
	}
	if StuckUnknown != CauseUnknown {
		t.Errorf("StuckUnknown is %q, CauseUnknown %q: one word for one thing", StuckUnknown, CauseUnknown)
	}
}

// readmeStuckCauseList is the README's paragraph that lists the stuck
// causes.
const readmeStuckCauseList = "Stuck causes (a stuck report's `causes`"

// TestReadmeListsEveryStuckCause keeps the README's list of stuck causes
// equal to the table, in the table's order.
func TestReadmeListsEveryStuckCause(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	text := string(b)
	i := strings.Index(text, readmeStuckCauseList)
	if i < 0 {
		t.Fatalf("README.md has no paragraph starting %q", readmeStuckCauseList)
	}
	para, _, _ := strings.Cut(text[i+len(readmeStuckCauseList):], "\n\n")
	var got []string
	for _, m := range backtickedCause.FindAllStringSubmatch(para, -1) {
		got = append(got, m[1])
	}
	var want []string
	for _, c := range StuckCauses() {
		want = append(want, c.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("README.md lists the stuck causes as %v, want the table's %v", got, want)
	}
}
