package collector

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

func TestPredictedKillsGauge(t *testing.T) {
	readiness := func(seq int64, ns, uid, outcome string) store.Row {
		body, err := proto.Marshal(&apiv1.Event{Kind: apiv1.KindTerminationReadiness, Prediction: &apiv1.Prediction{Outcome: outcome, Cause: apiv1.CauseSignalIgnored}})
		if err != nil {
			t.Fatal(err)
		}
		return store.Row{Node: "n", Epoch: 1, Seq: seq, TimeNs: seq, Kind: apiv1.KindTerminationReadiness, Namespace: ns, Name: "p-" + uid, UID: uid,
			Body: body, Readiness: store.ReadinessFacts{Container: "main", Outcome: outcome, Cause: apiv1.CauseSignalIgnored}}
	}
	cases := []struct {
		name string
		rows []store.Row
		want string
	}{
		{
			name: "Containers predicted to be killed are a series per namespace.",
			rows: []store.Row{readiness(1, "shop", "u1", apiv1.VerdictKilled), readiness(2, "shop", "u2", apiv1.VerdictKilled), readiness(3, "db", "u3", apiv1.VerdictGraceful)},
			want: "graceline_containers_predicted_kill{namespace=\"shop\"} 2\n",
		},
		{
			name: "No container predicted to be killed is no series.",
			rows: []store.Row{readiness(1, "db", "u3", apiv1.VerdictGraceful)},
			want: "",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Insert(context.Background(), tc.rows); err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			p := newPredictedKills(query.NewService(st, watch.NewHub(prometheus.NewRegistry()), prometheus.NewRegistry(), log), log)
			want := ""
			if tc.want != "" {
				want = "# HELP graceline_containers_predicted_kill " + predictedKillsHelp + "\n# TYPE graceline_containers_predicted_kill gauge\n" + tc.want
			}
			if err := testutil.CollectAndCompare(p, strings.NewReader(want), "graceline_containers_predicted_kill"); err != nil {
				t.Error(err)
			}
		})
	}
}
