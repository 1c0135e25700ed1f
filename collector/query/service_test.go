package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

// fill stores events through the real store, keyed in order.
func fill(t *testing.T, st *store.Store, events ...*apiv1.Event) {
	t.Helper()
	var rows []store.Row
	for i, e := range events {
		b, _ := proto.Marshal(e)
		rows = append(rows, store.Row{Node: e.Node, Epoch: 1, Seq: int64(i + 1), TimeNs: e.Time.AsTime().UnixNano(), Kind: e.Kind,
			Namespace: e.GetPod().GetNamespace(), Name: e.GetPod().GetName(), UID: e.GetPod().GetUid(), Verdict: e.Verdict, Body: b})
	}
	if _, err := st.Insert(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
}

func withPod(ns, name, uid string) func(*apiv1.Event) {
	return func(e *apiv1.Event) { e.Pod = &apiv1.PodRef{Namespace: ns, Name: name, Uid: uid} }
}

func TestService(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fill(t, st,
		ev(apiv1.KindContainerStarted, -time.Hour, withPod("ns", "web", "old")),
		// The runtime kills the new web pod's container: SIGKILL to its init.
		ev(apiv1.KindContainerStarted, -time.Minute, started(42), withPod("ns", "web", "new")),
		ev(apiv1.KindSignalGenerated, 0, signal("SIGKILL", 42, ""), withPod("ns", "web", "new")),
		ev(apiv1.KindContainerExited, 0, exit(137), withPod("ns", "web", "new")),
		ev(apiv1.KindSandboxStopped, time.Second, withPod("ns", "web", "new")),
		ev(apiv1.KindContainerExited, 0, exit(0), withPod("ns", "api", "api-1")),
		ev(apiv1.KindSandboxRemoved, 2*time.Second, withPod("ns", "api", "api-1")),
		ev(apiv1.KindStuck, 5*time.Second, withPod("other", "db", "db-1"), func(e *apiv1.Event) { e.BlockingPhase = "mounts" }),
	)
	svc := NewService(st, watch.NewHub(prometheus.NewRegistry()), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))

	t.Run("a timeline shows the latest pod of that name", func(t *testing.T) {
		events, sum, err := svc.Timeline(ctx, "ns", "web", "")
		if err != nil || len(events) != 4 || sum.Verdict != apiv1.VerdictKilled {
			t.Fatalf("Timeline = %d events, summary %v, %v", len(events), sum, err)
		}
	})
	t.Run("a timeline by uid shows that pod", func(t *testing.T) {
		events, _, err := svc.Timeline(ctx, "", "", "old")
		if err != nil || len(events) != 1 {
			t.Fatalf("Timeline(uid old) = %d events, %v", len(events), err)
		}
	})
	t.Run("an unknown pod is not found", func(t *testing.T) {
		if _, _, err := svc.Timeline(ctx, "ns", "nope", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a timeline needs a pod", func(t *testing.T) {
		if _, _, err := svc.Timeline(ctx, "ns", "", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("err = %v", err)
		}
	})
	cases := []struct {
		name   string
		filter ListFilter
		want   string
	}{
		{"list shows every termination newest first", ListFilter{}, "[db api web]"},
		{"list filters by verdict", ListFilter{Verdict: apiv1.VerdictGraceful}, "[api]"},
		{"list filters by namespace", ListFilter{Namespace: "other"}, "[db]"},
		{"list honours its limit", ListFilter{Limit: 1}, "[db]"},
		{"list filters by time", ListFilter{Since: t0.Add(3 * time.Second)}, "[db]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := svc.List(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range out {
				names = append(names, e.GetPod().GetName())
			}
			if fmt.Sprint(names) != tc.want {
				t.Errorf("List = %v, want %s", names, tc.want)
			}
		})
	}
	t.Run("stuck shows the pod's stuck report", func(t *testing.T) {
		out, err := svc.Stuck(ctx, "", "")
		if err != nil || len(out) != 1 || out[0].BlockingPhase != "mounts" {
			t.Fatalf("Stuck = %v, %v", out, err)
		}
	})
}
