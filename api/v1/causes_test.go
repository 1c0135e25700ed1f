package apiv1

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestCauseTableHoldsEveryCauseOnce(t *testing.T) {
	var names []string
	for _, c := range Causes() {
		if c.Title == "" {
			t.Errorf("cause %s has no title", c.Name)
		}
		names = append(names, c.Name)
	}
	consts := constants(t, "causes.go", "Cause")
	slices.Sort(names)
	slices.Sort(consts)
	if !slices.Equal(names, slices.Compact(slices.Clone(names))) {
		t.Errorf("the table names a cause twice: %v", names)
	}
	if !slices.Equal(names, consts) {
		t.Errorf("table causes %v, want the constants of causes.go %v", names, consts)
	}
}

func TestLookupCause(t *testing.T) {
	if c, ok := LookupCause(CauseSignalIgnored); !ok || c.Name != CauseSignalIgnored {
		t.Errorf("LookupCause(%q) = %+v, %v; want its row", CauseSignalIgnored, c, ok)
	}
	if c, ok := LookupCause("no_such_cause"); ok || c != (CauseInfo{}) {
		t.Errorf("LookupCause of an unknown cause = %+v, %v; want nothing", c, ok)
	}
}

// readmeCauseList is the README's paragraph that lists the causes.
const readmeCauseList = "Causes (`cause`"

// backtickedCause finds names in backticks that could be causes, which,
// unlike kinds, may hold a digit (pid1_no_handler); paths such as
// `api/v1/causes.go` do not match.
var backtickedCause = regexp.MustCompile("`([a-z][a-z0-9_]*)`")

// TestReadmeListsEveryCause keeps the README's list of causes equal to the
// cause table, in the table's order.
func TestReadmeListsEveryCause(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	text := string(b)
	i := strings.Index(text, readmeCauseList)
	if i < 0 {
		t.Fatalf("README.md has no paragraph starting %q", readmeCauseList)
	}
	para, _, _ := strings.Cut(text[i+len(readmeCauseList):], "\n\n")
	var got []string
	for _, m := range backtickedCause.FindAllStringSubmatch(para, -1) {
		got = append(got, m[1])
	}
	var want []string
	for _, c := range Causes() {
		want = append(want, c.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("README.md lists the causes as %v, want the table's %v", got, want)
	}
}
