package apiv1

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeKindList is the README's paragraph that lists the event kinds; it
// runs to the first blank line.
const readmeKindList = "Event kinds (JSON lines"

// backticked finds the names in backticks that could be kinds; paths such
// as `api/v1/event.proto` do not match.
var backticked = regexp.MustCompile("`([a-z][a-z_]*)`")

// kindsInList returns the kinds that the paragraph starting with start
// names, in their order.
func kindsInList(text, start string) ([]string, bool) {
	i := strings.Index(text, start)
	if i < 0 {
		return nil, false
	}
	para, _, _ := strings.Cut(text[i:], "\n\n")
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(para, -1) {
		out = append(out, m[1])
	}
	return out, true
}

func TestKindsInList(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"The kinds are read in order, without paths.", "x\n\nEvent kinds (JSON lines; `api/v1/event.proto`): `stuck`, `exec`.\n", []string{"stuck", "exec"}},
		{"The list ends at the blank line.", "Event kinds (JSON lines): `exec`.\n\n`stuck`\n", []string{"exec"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := kindsInList(tc.text, readmeKindList)
			if !ok || !slices.Equal(got, tc.want) {
				t.Errorf("kindsInList = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
}

// TestReadmeListsEveryKind keeps the README's list of kinds equal to the
// kind table, in the table's order: a kind missing from the README, or one
// the README names that does not exist, fails it.
func TestReadmeListsEveryKind(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	got, ok := kindsInList(string(b), readmeKindList)
	if !ok {
		t.Fatalf("README.md has no paragraph starting %q", readmeKindList)
	}
	var want []string
	for _, k := range Kinds() {
		want = append(want, k.Name)
	}
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("README.md does not list kind %s", k)
		}
	}
	for _, k := range got {
		if _, ok := LookupKind(k); !ok {
			t.Errorf("README.md lists %s, which is not a kind", k)
		}
	}
	if !t.Failed() && !slices.Equal(got, want) {
		t.Errorf("README.md lists the kinds as %v, want the table's order %v", got, want)
	}
}
