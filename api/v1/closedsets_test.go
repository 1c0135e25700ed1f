package apiv1

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// closedSets are api/v1's closed sets of names: each is a table in one
// file, whose constants share a prefix, and a README paragraph that lists
// the names in the table's order.
var closedSets = []struct {
	name         string
	file, prefix string
	// readme is how the README's paragraph listing the set starts.
	readme string
	// rows are the table's names and titles, in its order.
	rows func() (names, titles []string)
}{
	{"causes", "causes.go", "Cause", "Causes (`cause`", func() (n, ti []string) {
		for _, c := range Causes() {
			n, ti = append(n, c.Name), append(ti, c.Title)
		}
		return n, ti
	}},
	{"stuck causes", "stuck.go", "Stuck", "Stuck causes (a stuck report's `causes`", func() (n, ti []string) {
		for _, c := range StuckCauses() {
			n, ti = append(n, c.Name), append(ti, c.Title)
		}
		return n, ti
	}},
	{"initiators", "initiators.go", "Initiator", "Initiators (`initiator`", func() (n, ti []string) {
		for _, i := range Initiators() {
			n, ti = append(n, i.Name), append(ti, i.Title)
		}
		return n, ti
	}},
}

func TestEveryClosedSetsTableHoldsEachConstantOnceWithATitle(t *testing.T) {
	for _, set := range closedSets {
		t.Run(set.name, func(t *testing.T) {
			names, titles := set.rows()
			for i, title := range titles {
				if title == "" {
					t.Errorf("%s has no title", names[i])
				}
			}
			consts := constants(t, set.file, set.prefix)
			sorted := slices.Sorted(slices.Values(names))
			slices.Sort(consts)
			if !slices.Equal(sorted, slices.Compact(slices.Clone(sorted))) {
				t.Errorf("the table names one twice: %v", sorted)
			}
			if !slices.Equal(sorted, consts) {
				t.Errorf("table %v, want the constants of %s %v", sorted, set.file, consts)
			}
		})
	}
}

// backtickedName finds names in backticks that could be a set's, which,
// unlike kinds, may hold a digit (pid1_no_handler); paths such as
// `api/v1/causes.go` do not match.
var backtickedName = regexp.MustCompile("`([a-z][a-z0-9_]*)`")

// TestTheReadmeListsEveryClosedSetInItsTablesOrder keeps each README list
// equal to its table.
func TestTheReadmeListsEveryClosedSetInItsTablesOrder(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	text := string(b)
	for _, set := range closedSets {
		t.Run(set.name, func(t *testing.T) {
			i := strings.Index(text, set.readme)
			if i < 0 {
				t.Fatalf("README.md has no paragraph starting %q", set.readme)
			}
			para, _, _ := strings.Cut(text[i+len(set.readme):], "\n\n")
			var got []string
			for _, m := range backtickedName.FindAllStringSubmatch(para, -1) {
				got = append(got, m[1])
			}
			want, _ := set.rows()
			if !slices.Equal(got, want) {
				t.Errorf("README.md lists the %s as %v, want the table's %v", set.name, got, want)
			}
		})
	}
}
