package aggapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
)

func TestWatch(t *testing.T) {
	web := summaryOf("shop", "web", "n1", apiv1.VerdictKilled, 30*time.Second)
	db := summaryOf("shop", "db", "n2", apiv1.VerdictGraceful, 2*time.Second)
	exited := &apiv1.Event{Kind: apiv1.KindContainerExited, Node: "n1", Pod: web.Pod}
	for _, tc := range []struct {
		name           string
		live           []*apiv1.Event
		end            error
		labels, fields string
		// want are the events sent, as "TYPE name", or "ERROR code".
		want []string
	}{
		{"a summary is added, then modified by the next one", []*apiv1.Event{web, db, web}, nil, "", "", []string{"ADDED web", "ADDED db", "MODIFIED web"}},
		{"an event that changes no summary sends nothing", []*apiv1.Event{exited, db}, nil, "", "", []string{"ADDED db"}},
		{"a verdict label selector keeps that verdict", []*apiv1.Event{web, db}, nil, v1alpha1.LabelVerdict + "=graceful", "", []string{"ADDED db"}},
		{"a node label selector keeps that node", []*apiv1.Event{web, db}, nil, v1alpha1.LabelNode + "=n1", "", []string{"ADDED web"}},
		{"a node field selector keeps that node", []*apiv1.Event{web, db}, nil, "", "status.nodeName=n2", []string{"ADDED db"}},
		{"a watcher that fell behind is told to list again", []*apiv1.Event{web}, query.ErrWatcherBehind, "", "", []string{"ADDED web", "ERROR 410"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &terminations{r: fakeReader{sums: []*apiv1.Event{web, db}, live: tc.live, end: tc.end}}
			opts := &metainternalversion.ListOptions{Watch: true}
			var err error
			if opts.LabelSelector, err = labels.Parse(tc.labels); err != nil {
				t.Fatal(err)
			}
			if opts.FieldSelector, err = fields.ParseSelector(tc.fields); err != nil {
				t.Fatal(err)
			}
			w, err := s.Watch(genericapirequest.WithNamespace(context.Background(), "shop"), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			var got []string
			deadline := time.After(10 * time.Second)
			for len(got) < len(tc.want) {
				select {
				case e, ok := <-w.ResultChan():
					if !ok {
						t.Fatalf("the watch ended after %v, want %v", got, tc.want)
					}
					switch o := e.Object.(type) {
					case *v1alpha1.PodTermination:
						got = append(got, string(e.Type)+" "+o.Name)
					case *metav1.Status:
						got = append(got, fmt.Sprintf("ERROR %d", o.Code))
					}
				case <-deadline:
					t.Fatalf("got %v within 10s, want %v", got, tc.want)
				}
			}
			for i := range tc.want {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}

	t.Run("stopping the watch closes its channel", func(t *testing.T) {
		s := &terminations{r: fakeReader{}}
		w, err := s.Watch(genericapirequest.WithNamespace(context.Background(), ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Stop()
		select {
		case _, ok := <-w.ResultChan():
			if ok {
				t.Error("an event after Stop, want the channel closed")
			}
		case <-time.After(10 * time.Second):
			t.Error("the channel is still open 10s after Stop")
		}
	})
}
