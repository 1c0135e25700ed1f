package aggapi

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
)

func checkOf(ns, kind, workload, pod, container string, read time.Time) *apiv1.ContainerCheck {
	ref := &apiv1.PodRef{Namespace: ns, Name: pod, Uid: pod + "-uid"}
	c := &apiv1.ContainerCheck{
		Namespace: ns, Pod: ref, Container: container,
		Readiness: &apiv1.Event{
			Kind: apiv1.KindTerminationReadiness, Time: timestamppb.New(read), Pod: ref, Container: &apiv1.ContainerRef{Name: container},
			Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM"}, Disposition: "ignored",
			Processes: []*apiv1.Process{{Pid: 1, Comm: "sh", SigIgnored: []string{"SIGTERM"}}},
		},
		Prediction: &apiv1.Prediction{Outcome: apiv1.VerdictKilled, Cause: apiv1.CauseSignalIgnored},
	}
	if kind != "" {
		c.Workload = &apiv1.WorkloadRef{Kind: kind, Name: workload}
	}
	return c
}

func TestTerminationChecks(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var filters []query.CheckFilter
	r := fakeReader{filters: &filters, checks: []*apiv1.ContainerCheck{
		checkOf("other", "", "", "solo", "main", now.Add(-time.Minute)),
		checkOf("shop", "Deployment", "web", "web-1", "main", now.Add(-time.Minute)),
		checkOf("shop", "Deployment", "web", "web-1", "sidecar", now.Add(-time.Minute)),
	}}
	s := &terminationChecks{r: r, now: func() time.Time { return now }}
	week := now.Add(-query.DefaultCheckHistory)
	for _, tc := range []struct {
		name, namespace, selector string
		want                      []string
		filter                    query.CheckFilter
	}{
		{"a namespace lists its running containers over the default week", "shop", "", []string{"web-1.main", "web-1.sidecar"},
			query.CheckFilter{Namespace: "shop", Since: week}},
		{"every namespace is listed without one, in the collector's order", "", "", []string{"solo.main", "web-1.main", "web-1.sidecar"},
			query.CheckFilter{Since: week}},
		{"status.workload asks for one workload, its kind as given", "shop", "status.workload=deployment/web", []string{"web-1.main", "web-1.sidecar"},
			query.CheckFilter{Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "deployment", Name: "web"}, Since: week}},
		{"status.pod asks for one pod", "shop", "status.pod=web-1", []string{"web-1.main", "web-1.sidecar"},
			query.CheckFilter{Namespace: "shop", Pod: "web-1", Since: week}},
		{"status.window sets how far back the history goes", "shop", "status.window=1h", []string{"web-1.main", "web-1.sidecar"},
			query.CheckFilter{Namespace: "shop", Since: now.Add(-time.Hour)}},
		{"status.since sets the history's start to the nanosecond", "shop", "status.since=2026-03-01T00:00:00.123456789Z", []string{"web-1.main", "web-1.sidecar"},
			query.CheckFilter{Namespace: "shop", Since: time.Date(2026, 3, 1, 0, 0, 0, 123456789, time.UTC)}},
		{"a name selector keeps one container beside the query's fields", "shop", "status.pod=web-1,status.window=2h,metadata.name=web-1.sidecar", []string{"web-1.sidecar"},
			query.CheckFilter{Namespace: "shop", Pod: "web-1", Since: now.Add(-2 * time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			filters = nil
			obj, err := s.List(genericapirequest.WithNamespace(context.Background(), tc.namespace), listOptions(t, tc.selector))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range obj.(*v1alpha1.TerminationCheckList).Items {
				got = append(got, c.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
			if len(filters) != 1 {
				t.Fatalf("asked %d checks, want 1", len(filters))
			}
			if d := cmp.Diff(tc.filter, filters[0], protocmp.Transform()); d != "" {
				t.Errorf("check filter (-want +got):\n%s", d)
			}
		})
	}

	for _, tc := range []struct{ name, namespace, selector string }{
		{"a since that is no time is a bad request", "shop", "status.since=yesterday"},
		{"a window that is not positive is a bad request", "shop", "status.window=0s"},
		{"both since and window are a bad request", "shop", "status.since=2026-03-01T00:00:00Z,status.window=1h"},
		{"a workload without its kind is a bad request", "shop", "status.workload=web"},
		{"a pod of every namespace is a bad request", "", "status.pod=web-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.List(genericapirequest.WithNamespace(context.Background(), tc.namespace), listOptions(t, tc.selector))
			if !apierrors.IsBadRequest(err) {
				t.Errorf("list with %s: %v, want a bad request", tc.selector, err)
			}
		})
	}

	t.Run("the table prints the container's init, disposition and prediction", func(t *testing.T) {
		obj, err := s.List(genericapirequest.WithNamespace(context.Background(), ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		table, err := s.ConvertToTable(context.Background(), obj, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := [][]any{
			{"solo", "main", "<none>", "sh(1)", "ignored", apiv1.VerdictKilled, apiv1.CauseSignalIgnored},
			{"web-1", "main", "Deployment/web", "sh(1)", "ignored", apiv1.VerdictKilled, apiv1.CauseSignalIgnored},
		}
		for i, w := range want {
			// Age, the last column, is measured from the wall clock, not the fake one.
			if d := cmp.Diff(w[:7], table.Rows[i].Cells[:7]); d != "" {
				t.Errorf("row %d (-want +got):\n%s", i, d)
			}
		}
		if len(table.ColumnDefinitions) != len(table.Rows[0].Cells) {
			t.Errorf("%d columns, %d cells", len(table.ColumnDefinitions), len(table.Rows[0].Cells))
		}
	})
}
