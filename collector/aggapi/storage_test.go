package aggapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/fields"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

// fakeReader answers from a fixed set of summaries, filtering as the query
// service does.
type fakeReader struct {
	sums []*apiv1.Event
	// live are the events a watch sees once it is in place; end is what
	// the watch then returns (nil: it waits for its end).
	live []*apiv1.Event
	end  error
	// reports are the workloads' reports; asked records each report's
	// window start.
	reports []*apiv1.WorkloadReport
	asked   *[]time.Time
	// checks are the running containers' checks; filters records each
	// check's filter.
	checks  []*apiv1.ContainerCheck
	filters *[]query.CheckFilter
}

// Timeline finds a pod by uid in every namespace, as the store does.
func (f fakeReader) Timeline(_ context.Context, ns, name, uid string) ([]*apiv1.Event, *apiv1.Event, error) {
	for _, s := range f.sums {
		if (uid != "" && s.Pod.Uid == uid) || (uid == "" && s.Pod.Namespace == ns && s.Pod.Name == name) {
			return []*apiv1.Event{s}, s, nil
		}
	}
	return nil, nil, store.ErrNotFound
}

func (f fakeReader) Report(_ context.Context, ns string, since time.Time) ([]*apiv1.WorkloadReport, error) {
	if f.asked != nil {
		*f.asked = append(*f.asked, since)
	}
	var out []*apiv1.WorkloadReport
	for _, r := range f.reports {
		if ns == "" || r.Namespace == ns {
			out = append(out, r)
		}
	}
	return out, nil
}

// Check keeps the checks of the filter's namespace, and refuses a pod
// without one, as the query service does.
func (f fakeReader) Check(_ context.Context, cf query.CheckFilter, _ time.Time) ([]*apiv1.ContainerCheck, error) {
	if f.filters != nil {
		*f.filters = append(*f.filters, cf)
	}
	if cf.Pod != "" && cf.Namespace == "" {
		return nil, fmt.Errorf("%w: pod: a pod is checked within its namespace: give one", query.ErrInvalid)
	}
	var out []*apiv1.ContainerCheck
	for _, c := range f.checks {
		if cf.Namespace == "" || c.Namespace == cf.Namespace {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f fakeReader) List(_ context.Context, lf query.ListFilter) ([]*apiv1.Event, error) {
	var out []*apiv1.Event
	for _, s := range f.sums {
		if (lf.Namespace == "" || s.Pod.Namespace == lf.Namespace) && (lf.Verdict == "" || s.Verdict == lf.Verdict) && (lf.Node == "" || s.Node == lf.Node) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f fakeReader) Stuck(context.Context, string, string) ([]*apiv1.Event, error) { return nil, nil }

func (f fakeReader) Watch(ctx context.Context, wf watch.Filter, ready func() error, send func(*apiv1.Event) error) error {
	if err := ready(); err != nil {
		return err
	}
	for _, e := range f.live {
		if wf.Match(e) {
			if err := send(e); err != nil {
				return err
			}
		}
	}
	if f.end != nil {
		return f.end
	}
	<-ctx.Done()
	return nil
}

func summaryOf(ns, name, node, verdict string, took time.Duration) *apiv1.Event {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &apiv1.Event{
		Kind: apiv1.KindTerminationSummary, Time: timestamppb.New(start.Add(took)), Node: node, Verdict: verdict,
		Pod:    &apiv1.PodRef{Namespace: ns, Name: name, Uid: name + "-uid"},
		Phases: []*apiv1.Phase{{Name: "stop", Start: timestamppb.New(start), End: timestamppb.New(start.Add(took))}},
		Causes: []*apiv1.ContainerCause{{Container: &apiv1.ContainerRef{Name: "main"}, Cause: apiv1.CauseUnknown}},
	}
}

func TestTerminations(t *testing.T) {
	r := fakeReader{sums: []*apiv1.Event{
		summaryOf("shop", "web", "n1", apiv1.VerdictKilled, 30*time.Second),
		summaryOf("shop", "db", "n2", apiv1.VerdictGraceful, 2*time.Second),
		summaryOf("other", "job", "n1", apiv1.VerdictGraceful, time.Second),
	}}
	s := &terminations{r: r}
	for _, tc := range []struct {
		name, namespace, selector string
		want                      []string
	}{
		{"a namespace lists only its own terminations", "shop", "", []string{"web", "db"}},
		{"every namespace is listed without one", "", "", []string{"web", "db", "job"}},
		{"a verdict field selector keeps that verdict", "", "status.verdict=graceful", []string{"db", "job"}},
		{"a node field selector keeps that node", "shop", "status.nodeName=n1", []string{"web"}},
		{"a negated selector is applied to each object", "", "status.verdict!=graceful", []string{"web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := genericapirequest.WithNamespace(context.Background(), tc.namespace)
			opts := &metainternalversion.ListOptions{}
			if tc.selector != "" {
				sel, err := fields.ParseSelector(tc.selector)
				if err != nil {
					t.Fatal(err)
				}
				opts.FieldSelector = sel
			}
			obj, err := s.List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range obj.(*v1alpha1.PodTerminationList).Items {
				got = append(got, p.Name)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("listed %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("listed %v, want %v", got, tc.want)
				}
			}
		})
	}

	t.Run("the table has the verdict, duration, cause and age of each termination", func(t *testing.T) {
		obj, err := s.List(genericapirequest.WithNamespace(context.Background(), "shop"), nil)
		if err != nil {
			t.Fatal(err)
		}
		table, err := s.ConvertToTable(context.Background(), obj, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range table.ColumnDefinitions {
			names = append(names, c.Name)
		}
		if want := "[Name Verdict Duration Cause Node Initiator Age]"; fmtList(names) != want {
			t.Errorf("columns %v, want %s", names, want)
		}
		row := table.Rows[0].Cells
		if row[0] != "web" || row[1] != apiv1.VerdictKilled || row[2] != "30s" || row[3] != apiv1.CauseUnknown || row[4] != "n1" {
			t.Errorf("first row %v, want web killed 30s unknown n1", row)
		}
		if table.Rows[0].Object.Object == nil {
			t.Error("the row carries no object, which kubectl needs for -o name and metadata")
		}
	})

	t.Run("a pod without a termination is not found", func(t *testing.T) {
		_, err := s.Get(genericapirequest.WithNamespace(context.Background(), "shop"), "absent", nil)
		if !apierrors.IsNotFound(err) {
			t.Errorf("get of an absent pod: %v, want NotFound", err)
		}
	})
}

func fmtList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}

func TestScheme(t *testing.T) {
	s, _, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, label string
		ok          bool
	}{
		{"the verdict is a field selector", v1alpha1.FieldVerdict, true},
		{"the node is a field selector", v1alpha1.FieldNodeName, true},
		{"the name is a field selector", "metadata.name", true},
		{"an unknown field is refused", "status.cause", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.ConvertFieldLabel(v1alpha1.SchemeGroupVersion.WithKind("PodTermination"), tc.label, "x")
			if (err == nil) != tc.ok {
				t.Errorf("field %s: %v, want accepted=%v", tc.label, err, tc.ok)
			}
		})
	}
}
