package conn

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/spf13/cobra"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestCompletePods completes pod names from the terminations that an API
// server answering as Kubernetes's serves, through --server and -n.
func TestCompletePods(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/graceline.dev/v1alpha1/namespaces/shop/podterminations" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		var events []*apiv1.Event
		for _, name := range []string{"web-1", "web-2", "db", "web-1"} {
			events = append(events, &apiv1.Event{Kind: apiv1.KindTerminationSummary, Pod: &apiv1.PodRef{Namespace: "shop", Name: name}})
		}
		json.NewEncoder(w).Encode(v1alpha1.TerminationList(events))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name, toComplete string
		want             []string
	}{
		{"names with the typed prefix, each once, in order", "web", []string{"web-1", "web-2"}},
		{"every name for nothing typed", "", []string{"db", "web-1", "web-2"}},
		{"NAMESPACE/ completes in that namespace", "shop/d", []string{"shop/db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			*o.Kube.APIServer, *o.Kube.Namespace = srv.URL, "shop"
			got, directive := o.CompletePods(&cobra.Command{}, nil, tc.toComplete)
			if directive != cobra.ShellCompDirectiveNoFileComp || !slices.Equal(got, tc.want) {
				t.Errorf("completed %q to %v (directive %d), want %v", tc.toComplete, got, directive, tc.want)
			}
		})
	}
	t.Run("a second argument is not completed", func(t *testing.T) {
		o := NewOptions()
		*o.Kube.APIServer = srv.URL
		if got, _ := o.CompletePods(&cobra.Command{}, []string{"web-1"}, ""); len(got) != 0 {
			t.Errorf("completed %v after the pod, want nothing", got)
		}
	})
}
