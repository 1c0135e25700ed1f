package collector

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

func TestPredictedKillsGauge(t *testing.T) {
	readiness := func(seq int64, ns, uid, outcome string) store.Row {
		return store.Row{Node: "n", Epoch: 1, Seq: seq, TimeNs: seq, Kind: apiv1.KindTerminationReadiness, Namespace: ns, Name: "p-" + uid, UID: uid,
			Body: []byte(uid), Readiness: store.ReadinessFacts{Container: "main", Outcome: outcome, Cause: apiv1.CauseSignalIgnored}}
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
			p := newPredictedKills(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
