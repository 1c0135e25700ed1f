package apiv1

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// kindConstants returns the values of the Kind* constants declared in
// kinds.go, read from its source so that a new constant without a row in the
// table fails the test below.
func kindConstants(t *testing.T) []string { return constants(t, "kinds.go", "Kind") }

// constants returns the values of the string constants whose names start
// with prefix in file.
func constants(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			for i, n := range v.Names {
				if !strings.HasPrefix(n.Name, prefix) {
					continue
				}
				lit, ok := v.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s is not a string literal", n.Name)
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("unquote %s: %v", n.Name, err)
				}
				out = append(out, s)
			}
		}
	}
	return out
}

func TestKindTableHoldsEveryKindOnce(t *testing.T) {
	var names []string
	for _, k := range Kinds() {
		if k.Side != SideNode && k.Side != SideAPI {
			t.Errorf("kind %s has no side", k.Name)
		}
		if k.Side == SideAPI && k.Lane != LaneRaw {
			t.Errorf("kind %s comes from the API but has a spool lane", k.Name)
		}
		names = append(names, k.Name)
	}
	consts := kindConstants(t)
	if len(consts) == 0 {
		t.Fatal("found no Kind constants in kinds.go")
	}
	slices.Sort(names)
	slices.Sort(consts)
	if !slices.Equal(names, slices.Compact(slices.Clone(names))) {
		t.Errorf("the table names a kind twice: %v", names)
	}
	if !slices.Equal(names, consts) {
		t.Errorf("table kinds %v, want the constants of kinds.go %v", names, consts)
	}
}

// The functions below are the lists the table replaced, copied from the
// spool, the store, the collector's stuck check and IsAPIKind as they were,
// so that the test proves the table changed no behaviour.

func oldPriority(kind string) bool {
	switch kind {
	case KindTerminationSummary, KindStuck, KindEventsDropped:
		return true
	}
	return false
}

func oldIsAPIKind(kind string) bool {
	switch kind {
	case KindDeleteRequested, KindEndpointNotReady, KindEndpointRemoved, KindFinalizersChanged, KindPodDeleted:
		return true
	}
	return false
}

func oldStartsTermination(kind string) bool {
	switch kind {
	case KindDeleteRequested, KindSandboxStopped, KindSandboxRemoved, KindTerminationSummary, KindStuck:
		return true
	}
	return false
}

func oldEndsTermination(kind, verdict string) bool {
	switch kind {
	case KindPodDeleted:
		return true
	case KindTerminationSummary:
		return verdict != VerdictStuck
	}
	return false
}

func oldReportsStuck(kind, verdict string) bool {
	return kind == KindStuck || (kind == KindTerminationSummary && verdict == VerdictStuck)
}

var oldNodeActions = []string{
	KindPreStopExec, KindSignalGenerated, KindContainerExited, KindContainerStopped,
	KindSandboxStopped, KindStuck, KindTerminationSummary,
}

func TestKindRulesMatchTheListsTheyReplace(t *testing.T) {
	kinds := []string{"", "no_such_kind"}
	for _, k := range Kinds() {
		if !slices.Contains(newerKinds, k.Name) {
			kinds = append(kinds, k.Name)
		}
	}
	verdicts := append([]string{""}, Verdicts()...)
	for _, kind := range kinds {
		t.Run("kind "+strconv.Quote(kind)+" keeps its old rules", func(t *testing.T) {
			if got, want := KindLane(kind) == LanePriority, oldPriority(kind); got != want {
				t.Errorf("priority lane %v, want %v", got, want)
			}
			if got, want := IsAPIKind(kind), oldIsAPIKind(kind); got != want {
				t.Errorf("IsAPIKind %v, want %v", got, want)
			}
			if got, want := StartsTermination(kind), oldStartsTermination(kind); got != want {
				t.Errorf("StartsTermination %v, want %v", got, want)
			}
			for _, v := range verdicts {
				if got, want := EndsTermination(kind, v), oldEndsTermination(kind, v); got != want {
					t.Errorf("EndsTermination with verdict %q %v, want %v", v, got, want)
				}
				if got, want := ReportsStuck(kind, v), oldReportsStuck(kind, v); got != want {
					t.Errorf("ReportsStuck with verdict %q %v, want %v", v, got, want)
				}
			}
			if got, want := slices.Contains(NodeActionKinds(), kind), slices.Contains(oldNodeActions, kind); got != want {
				t.Errorf("node action %v, want %v", got, want)
			}
		})
	}
}

// newerKinds came after the lists the table replaced; their rules are
// checked one by one below.
var newerKinds = []string{KindContainerSummary, KindContainerInspected, KindTerminationReadiness}

func TestNewerKindRules(t *testing.T) {
	verdicts := append([]string{""}, Verdicts()...)
	t.Run("A container summary is kept long by a full spool but neither begins, ends nor reports stuck a pod's termination.", func(t *testing.T) {
		if KindLane(KindContainerSummary) != LanePriority {
			t.Errorf("container_summary is not in the priority lane")
		}
		if StartsTermination(KindContainerSummary) || slices.Contains(NodeActionKinds(), KindContainerSummary) {
			t.Errorf("container_summary starts a pod's termination or shows the node deleting it")
		}
		for _, v := range verdicts {
			if EndsTermination(KindContainerSummary, v) || ReportsStuck(KindContainerSummary, v) {
				t.Errorf("container_summary with verdict %q ends the pod's termination or reports it stuck", v)
			}
		}
	})
}

func TestContainerInspectedRules(t *testing.T) {
	t.Run("A container's inspection is raw evidence that neither begins, ends nor reports stuck a pod's termination.", func(t *testing.T) {
		if KindLane(KindContainerInspected) != LaneRaw || IsAPIKind(KindContainerInspected) {
			t.Errorf("container_inspected is not a raw node kind")
		}
		if StartsTermination(KindContainerInspected) || slices.Contains(NodeActionKinds(), KindContainerInspected) {
			t.Errorf("container_inspected starts a pod's termination or shows the node deleting it")
		}
		for _, v := range append([]string{""}, Verdicts()...) {
			if EndsTermination(KindContainerInspected, v) || ReportsStuck(KindContainerInspected, v) {
				t.Errorf("container_inspected with verdict %q ends the pod's termination or reports it stuck", v)
			}
		}
	})
}

func TestTerminationReadinessRules(t *testing.T) {
	t.Run("A running container's readiness is kept long by a full spool but neither begins, ends nor reports stuck a pod's termination.", func(t *testing.T) {
		if KindLane(KindTerminationReadiness) != LanePriority || IsAPIKind(KindTerminationReadiness) {
			t.Errorf("termination_readiness is not a priority node kind")
		}
		if StartsTermination(KindTerminationReadiness) || slices.Contains(NodeActionKinds(), KindTerminationReadiness) {
			t.Errorf("termination_readiness starts a pod's termination or shows the node deleting it")
		}
		for _, v := range append([]string{""}, Verdicts()...) {
			if EndsTermination(KindTerminationReadiness, v) || ReportsStuck(KindTerminationReadiness, v) {
				t.Errorf("termination_readiness with verdict %q ends the pod's termination or reports it stuck", v)
			}
		}
	})
}

func TestLookupKind(t *testing.T) {
	tests := []struct {
		name   string
		kind   string
		want   KindInfo
		wantOK bool
	}{
		{"A node kind is found with its row.", KindSandboxRemoved, KindInfo{KindSandboxRemoved, SideNode, LaneRaw, RoleStarts}, true},
		{"An API kind is found with its row.", KindPodDeleted, KindInfo{KindPodDeleted, SideAPI, LaneRaw, RoleEnds}, true},
		{"An unknown kind is not found and has no properties.", "no_such_kind", KindInfo{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := LookupKind(tc.kind)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("LookupKind(%q) = %+v, %v; want %+v, %v", tc.kind, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestKindsReturnsACopy(t *testing.T) {
	k := Kinds()
	k[0].Side = SideAPI
	if kindTable[0].Side == SideAPI {
		t.Errorf("changing the result of Kinds changed the table")
	}
}
