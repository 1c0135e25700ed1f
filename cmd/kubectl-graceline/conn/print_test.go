package conn

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestPrintObject(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	list := v1alpha1.TerminationList([]*apiv1.Event{{
		Kind: apiv1.KindTerminationSummary, Time: timestamppb.New(start), Node: "n1", Verdict: apiv1.VerdictKilled,
		Pod:    &apiv1.PodRef{Namespace: "shop", Name: "web", Uid: "u-1"},
		Phases: []*apiv1.Phase{{Name: apiv1.PhaseStopSignal, Start: timestamppb.New(start), End: timestamppb.New(start.Add(2 * time.Second))}},
	}})
	for _, tc := range []struct {
		name, output string
		want         []string
	}{
		{"json is the list object, with its kind", "json", []string{`"kind": "PodTerminationList"`, `"verdict": "killed"`}},
		{"yaml is the list object, with its labels", "yaml", []string{"kind: PodTerminationList", "graceline.dev/verdict: killed"}},
		{"name names each object by resource and group", "name", []string{"podtermination.graceline.dev/web"}},
		{"jsonpath picks fields", "jsonpath={.items[0].status.nodeName}", []string{"n1"}},
		{"custom-columns makes a table of fields", "custom-columns=POD:.metadata.name,VERDICT:.status.verdict", []string{"POD", "VERDICT", "web", "killed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckObjectOutput(tc.output); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := PrintObject(&b, tc.output, list); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("-o %s printed\n%s\nwant %q in it", tc.output, b.String(), w)
				}
			}
		})
	}
	t.Run("a jsonpath that does not parse is the command line's fault", func(t *testing.T) {
		if err := PrintObject(&bytes.Buffer{}, "jsonpath={.items[", list); err == nil || !strings.Contains(err.Error(), "--output") {
			t.Errorf("error %v, want one naming --output", err)
		}
	})
}
