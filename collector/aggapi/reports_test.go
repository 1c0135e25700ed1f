package aggapi

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestWorkloadReports(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var asked []time.Time
	r := fakeReader{asked: &asked, reports: []*apiv1.WorkloadReport{
		{Namespace: "other", Workload: &apiv1.WorkloadRef{Kind: "Job", Name: "batch"}, Terminations: 1},
		{Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"}, Terminations: 3, Finished: 3, Killed: 1,
			DurationP50: durationpb.New(2 * time.Second), DurationP95: durationpb.New(31 * time.Second), Cause: apiv1.CauseUnknown},
		{Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "StatefulSet", Name: "db"}, Terminations: 1},
	}}
	s := &workloadReports{r: r, now: func() time.Time { return now }}
	for _, tc := range []struct {
		name, namespace, selector string
		want                      []string
		since                     time.Time
	}{
		{"a namespace lists its own workloads over the default day", "shop", "", []string{"deployment.web", "statefulset.db"}, now.Add(-24 * time.Hour)},
		{"every namespace is listed without one", "", "", []string{"job.batch", "deployment.web", "statefulset.db"}, now.Add(-24 * time.Hour)},
		{"status.since sets the window's start to the nanosecond", "shop", "status.since=2026-03-01T00:00:00.123456789Z", []string{"deployment.web", "statefulset.db"}, time.Date(2026, 3, 1, 0, 0, 0, 123456789, time.UTC)},
		{"status.window sets the window back from now", "shop", "status.window=168h", []string{"deployment.web", "statefulset.db"}, now.Add(-168 * time.Hour)},
		{"a name selector keeps one workload beside the window", "shop", "status.window=1h,metadata.name=deployment.web", []string{"deployment.web"}, now.Add(-time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked = nil
			obj, err := s.List(genericapirequest.WithNamespace(context.Background(), tc.namespace), listOptions(t, tc.selector))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range obj.(*v1alpha1.WorkloadReportList).Items {
				got = append(got, w.Name)
				if !w.Status.Since.Time.Truncate(time.Second).Equal(tc.since.Truncate(time.Second)) {
					t.Errorf("%s carries since %s, want %s", w.Name, w.Status.Since, tc.since)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
			if len(asked) != 1 || !asked[0].Equal(tc.since) {
				t.Errorf("asked the report since %v, want %s", asked, tc.since)
			}
		})
	}

	for _, tc := range []struct{ name, selector string }{
		{"a since that is no time is a bad request", "status.since=yesterday"},
		{"a window that is not positive is a bad request", "status.window=-1h"},
		{"both since and window are a bad request", "status.since=2026-03-01T00:00:00Z,status.window=1h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.List(genericapirequest.WithNamespace(context.Background(), "shop"), listOptions(t, tc.selector))
			if !apierrors.IsBadRequest(err) {
				t.Errorf("list with %s: %v, want a bad request", tc.selector, err)
			}
		})
	}

	t.Run("the table prints the report's numbers", func(t *testing.T) {
		obj, err := s.List(genericapirequest.WithNamespace(context.Background(), "shop"), nil)
		if err != nil {
			t.Fatal(err)
		}
		table, err := s.ConvertToTable(context.Background(), obj, nil)
		if err != nil {
			t.Fatal(err)
		}
		row := table.Rows[0].Cells
		if row[0] != "deployment.web" || row[1] != int64(3) || row[2] != int64(1) || row[3] != "2s" || row[4] != "31s" || row[6] != apiv1.CauseUnknown {
			t.Errorf("first row %v, want deployment.web 3 1 2s 31s ... unknown", row)
		}
		if row := table.Rows[1].Cells; row[3] != "<none>" {
			t.Errorf("a workload with no finished pod has p50 %v, want <none>", row[3])
		}
	})
}

func listOptions(t *testing.T, selector string) *metainternalversion.ListOptions {
	t.Helper()
	opts := &metainternalversion.ListOptions{}
	if selector != "" {
		sel, err := fields.ParseSelector(selector)
		if err != nil {
			t.Fatal(err)
		}
		opts.FieldSelector = sel
	}
	return opts
}

func TestTimelineByUID(t *testing.T) {
	r := fakeReader{sums: []*apiv1.Event{
		summaryOf("shop", "web", "n1", apiv1.VerdictKilled, 30*time.Second),
		summaryOf("other", "secret", "n1", apiv1.VerdictGraceful, time.Second),
	}}
	s := &timelines{r: r}
	for _, tc := range []struct {
		name, namespace, pod, uid string
		found                     bool
	}{
		{"the pod of that uid is served under its namespace and name", "shop", "web", "web-uid", true},
		{"a uid of another namespace's pod is not found", "shop", "secret", "secret-uid", false},
		{"a uid of another pod's name is not found", "other", "web", "secret-uid", false},
		{"an unknown uid is not found", "shop", "web", "absent", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := s.Get(genericapirequest.WithNamespace(context.Background(), tc.namespace), tc.pod, &v1alpha1.TimelineOptions{UID: tc.uid})
			switch {
			case tc.found && err != nil:
				t.Fatalf("get: %v", err)
			case tc.found && string(obj.(*v1alpha1.PodTerminationTimeline).UID) != tc.uid:
				t.Errorf("served uid %s, want %s", obj.(*v1alpha1.PodTerminationTimeline).UID, tc.uid)
			case !tc.found && !apierrors.IsNotFound(err):
				t.Errorf("get: %v, want NotFound", err)
			}
		})
	}

	t.Run("the uid query parameter is read into the options", func(t *testing.T) {
		scheme, _, err := newScheme()
		if err != nil {
			t.Fatal(err)
		}
		opts, _, _ := s.NewGetOptions()
		if err := runtime.NewParameterCodec(scheme).DecodeParameters(url.Values{"uid": {"web-uid"}}, v1alpha1.SchemeGroupVersion, opts); err != nil {
			t.Fatal(err)
		}
		if got := opts.(*v1alpha1.TimelineOptions).UID; got != "web-uid" {
			t.Errorf("uid %q, want web-uid", got)
		}
	})
}
