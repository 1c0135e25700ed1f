package kube

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestClient runs the client against an HTTP server that answers as the
// API server does for the aggregated API, and checks the paths and
// selectors it asks for and the errors it explains.
func TestClient(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	list := v1alpha1.TerminationList([]*apiv1.Event{{
		Kind: apiv1.KindTerminationSummary, Time: timestamppb.New(start), Node: "n1", Verdict: apiv1.VerdictKilled,
		Pod: &apiv1.PodRef{Namespace: "shop", Name: "web", Uid: "u-1"},
	}})
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path+"?"+r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/graceline.dev/v1alpha1/namespaces/shop/podterminations":
			json.NewEncoder(w).Encode(list)
		case "/apis/graceline.dev/v1alpha1/namespaces/shop/workloadreports":
			json.NewEncoder(w).Encode(&v1alpha1.WorkloadReportList{Items: []v1alpha1.WorkloadReport{*v1alpha1.ToWorkloadReport(
				&apiv1.WorkloadReport{Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"}, Terminations: 2}, start)}})
		case "/apis/graceline.dev/v1alpha1/namespaces/shop/terminationchecks", "/apis/graceline.dev/v1alpha1/terminationchecks":
			json.NewEncoder(w).Encode(&v1alpha1.TerminationCheckList{Items: []v1alpha1.TerminationCheck{*v1alpha1.ToTerminationCheck(&apiv1.ContainerCheck{
				Namespace: "shop", Pod: &apiv1.PodRef{Namespace: "shop", Name: "web-1"}, Container: "main",
				Prediction: &apiv1.Prediction{Outcome: apiv1.VerdictKilled, Cause: apiv1.CauseSignalIgnored}})}})
		case "/apis/graceline.dev/v1alpha1/namespaces/shop/podterminations/web/timeline":
			json.NewEncoder(w).Encode(&v1alpha1.PodTerminationTimeline{})
		case "/apis/graceline.dev/v1alpha1/namespaces/shop/podterminations/gone/timeline":
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: 404,
				Details: &metav1.StatusDetails{Name: "gone", Group: v1alpha1.GroupName, Kind: v1alpha1.ResourcePodTerminations}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := New(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("a list asks for the node and verdict as field selectors and decodes the objects", func(t *testing.T) {
		got, err := c.Terminations(ctx, "shop", "n1", apiv1.VerdictKilled, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Items) != 1 || got.Items[0].Name != "web" || got.Items[0].Status.Verdict != apiv1.VerdictKilled {
			t.Errorf("items %+v, want web, killed", got.Items)
		}
		last := asked[len(asked)-1]
		for _, w := range []string{"fieldSelector=status.nodeName%3Dn1%2Cstatus.verdict%3Dkilled", "limit=10"} {
			if !strings.Contains(last, w) {
				t.Errorf("asked %s, want %s in it", last, w)
			}
		}
	})
	t.Run("a report asks for its window's start to the nanosecond as a field selector", func(t *testing.T) {
		since := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		got, err := c.Reports(ctx, "shop", since)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Items) != 1 || got.Items[0].Status.WorkloadName != "web" || got.Items[0].Status.Terminations != 2 {
			t.Errorf("items %+v, want web with 2 terminations", got.Items)
		}
		if last, want := asked[len(asked)-1], "fieldSelector=status.since%3D2026-01-02T03%3A04%3A05.000000006Z"; !strings.Contains(last, want) {
			t.Errorf("asked %s, want %s in it", last, want)
		}
	})
	t.Run("a check asks for its workload, pod and history's start as field selectors", func(t *testing.T) {
		since := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		got, err := c.Checks(ctx, "shop", &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"}, "web-1", since)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Items) != 1 || got.Items[0].Name != "web-1.main" || got.Items[0].Status.Prediction.Cause != apiv1.CauseSignalIgnored {
			t.Errorf("items %+v, want web-1.main predicted signal_ignored", got.Items)
		}
		last := asked[len(asked)-1]
		u, err := url.Parse(last)
		if err != nil {
			t.Fatal(err)
		}
		sel, err := fields.ParseSelector(u.Query().Get("fieldSelector"))
		if err != nil {
			t.Fatal(err)
		}
		for f, want := range map[string]string{"status.workload": "Deployment/web", "status.pod": "web-1", "status.since": "2026-01-02T03:04:05.000000006Z"} {
			if got, ok := sel.RequiresExactMatch(f); !ok || got != want {
				t.Errorf("asked %s: %s=%q, want %q", last, f, got, want)
			}
		}
	})
	t.Run("a check of every namespace without a window asks with no selector", func(t *testing.T) {
		if _, err := c.Checks(ctx, "", nil, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if last, want := asked[len(asked)-1], "/apis/graceline.dev/v1alpha1/terminationchecks?"; last != want {
			t.Errorf("asked %s, want %s", last, want)
		}
	})
	t.Run("a timeline by uid asks for it as the uid query parameter", func(t *testing.T) {
		if _, _, err := c.Timeline(ctx, "shop", "web", "u-1"); err != nil {
			t.Fatal(err)
		}
		if last, want := asked[len(asked)-1], "/podterminations/web/timeline?uid=u-1"; !strings.HasSuffix(last, want) {
			t.Errorf("asked %s, want it to end with %s", last, want)
		}
		if _, _, err := c.Timeline(ctx, "shop", "web", ""); err != nil {
			t.Fatal(err)
		}
		if last := asked[len(asked)-1]; !strings.HasSuffix(last, "/timeline?") {
			t.Errorf("asked %s, want no uid without one", last)
		}
	})
	t.Run("a pod without a termination is named", func(t *testing.T) {
		_, _, err := c.Timeline(ctx, "shop", "gone", "")
		if err == nil || !strings.Contains(err.Error(), "no termination of pod shop/gone") {
			t.Errorf("error %v, want one naming shop/gone", err)
		}
	})
	t.Run("an API server without the group says so", func(t *testing.T) {
		_, err := c.StuckPods(ctx, "other", "")
		if err == nil || !strings.Contains(err.Error(), "does not serve graceline.dev/v1alpha1") {
			t.Errorf("error %v, want one saying the group is not served", err)
		}
	})
}
