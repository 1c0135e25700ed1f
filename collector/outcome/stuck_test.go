package outcome

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// report is a stored event of pod ns/name at t0+at: a stuck report naming
// phase, or (with an empty phase) the pod's deletion from the API, which
// ends it.
func report(seq int64, ns, name string, at time.Duration, phase string) store.Row {
	e := &apiv1.Event{Kind: apiv1.KindStuck, Source: apiv1.SourceAPI, Time: timestamppb.New(t0.Add(at)), BlockingPhase: phase,
		Pod: &apiv1.PodRef{Namespace: ns, Name: name, Uid: ns + "-" + name}}
	if phase == "" {
		e.Kind = apiv1.KindPodDeleted
	}
	b, err := proto.Marshal(e)
	if err != nil {
		panic(err)
	}
	return store.Row{Node: "n1", Epoch: 1, Seq: seq, TimeNs: t0.Add(at).UnixNano(), Kind: e.Kind,
		Namespace: ns, Name: name, UID: e.Pod.Uid, Body: b}
}

func TestStuckPodsAreReadFromTheStoreWhenScraped(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []store.Row
		max  int
		want string // the exposition of graceline_pods_stuck
	}{
		{"no stuck pod gives no series", nil, 10, ""},
		{"stuck pods are counted by namespace and blocking phase", []store.Row{
			report(1, "shop", "a", 0, apiv1.PhaseFinalizers),
			report(2, "shop", "b", 0, apiv1.PhaseFinalizers),
			report(3, "batch", "c", 0, apiv1.PhaseResourceRelease),
		}, 10, `
graceline_pods_stuck{blocking_phase="finalizers",namespace="shop"} 2
graceline_pods_stuck{blocking_phase="resource_release",namespace="batch"} 1
`},
		{"the latest report's phase counts", []store.Row{
			report(1, "shop", "a", 0, apiv1.PhaseNode),
			report(2, "shop", "a", time.Second, apiv1.PhaseFinalizers),
		}, 10, `
graceline_pods_stuck{blocking_phase="finalizers",namespace="shop"} 1
`},
		{"a pod that ended after its report is no longer stuck", []store.Row{
			report(1, "shop", "a", 0, apiv1.PhaseRemoval),
			report(2, "shop", "a", time.Second, ""),
		}, 10, ""},
		{"a phase outside the closed set is unknown", []store.Row{report(1, "shop", "a", 0, "warp_drive")}, 10, `
graceline_pods_stuck{blocking_phase="unknown",namespace="shop"} 1
`},
		{"namespaces past the cap share _other", []store.Row{
			report(1, "a", "p", 0, apiv1.PhaseNode),
			report(2, "b", "p", time.Second, apiv1.PhaseNode),
		}, 1, `
graceline_pods_stuck{blocking_phase="node",namespace="_other"} 1
graceline_pods_stuck{blocking_phase="node",namespace="b"} 1
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			if len(tc.rows) > 0 {
				if _, err := st.Insert(context.Background(), tc.rows); err != nil {
					t.Fatal(err)
				}
			}
			reg := prometheus.NewRegistry()
			New(Config{MaxNamespaces: tc.max}, st, reg, quiet)
			want := ""
			if tc.want != "" {
				want = "# HELP graceline_pods_stuck " + stuckHelp + "\n# TYPE graceline_pods_stuck gauge" + tc.want
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "graceline_pods_stuck"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestAStoreThatFailsLeavesTheGaugeOutAndCountsIt(t *testing.T) {
	st := openStore(t)
	reg := prometheus.NewRegistry()
	r := New(Config{}, st, reg, quiet)
	st.Close() // a closed database fails every read, as a broken one would
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("the rest of /metrics was not served: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "graceline_pods_stuck" {
			t.Errorf("graceline_pods_stuck served from a failed read")
		}
	}
	if got := testutil.ToFloat64(r.m.stuckErrors); got != 1 {
		t.Errorf("stuck read errors = %v, want 1", got)
	}
}
