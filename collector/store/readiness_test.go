package store

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// ready is a termination_readiness row of container main of uid in
// namespace ns, at t, predicting outcome.
func ready(seq int64, ns, uid string, t int64, outcome string) Row {
	r := row("a", 1, seq, uid, apiv1.KindTerminationReadiness, t)
	r.Namespace = ns
	r.Readiness = ReadinessFacts{Container: "main", Outcome: outcome, Cause: apiv1.CauseSignalIgnored}
	return r
}

func TestPredictedKills(t *testing.T) {
	killed, graceful := apiv1.VerdictKilled, apiv1.VerdictGraceful
	cases := []struct {
		name    string
		batches [][]Row
		want    map[string]int
	}{
		{
			name:    "Running containers predicted to be killed are counted by namespace.",
			batches: [][]Row{{ready(1, "shop", "u1", 10, killed), ready(2, "shop", "u2", 10, killed), ready(3, "db", "u3", 10, killed), ready(4, "db", "u4", 10, graceful)}},
			want:    map[string]int{"shop": 2, "db": 1},
		},
		{
			name:    "A newer prediction replaces the older one.",
			batches: [][]Row{{ready(1, "shop", "u1", 10, killed)}, {ready(2, "shop", "u1", 20, graceful)}},
			want:    map[string]int{},
		},
		{
			name:    "An older prediction arriving late changes nothing.",
			batches: [][]Row{{ready(2, "shop", "u1", 20, graceful)}, {ready(1, "shop", "u1", 10, killed)}},
			want:    map[string]int{},
		},
		{
			name:    "A pod whose termination began no longer counts.",
			batches: [][]Row{{ready(1, "shop", "u1", 10, killed)}, {row("a", 1, 2, "u1", apiv1.KindSandboxStopped, 30)}},
			want:    map[string]int{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "db"))
			ctx := context.Background()
			for _, b := range tc.batches {
				if _, err := s.Insert(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.PredictedKills(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("predicted kills %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLastPrediction(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	ctx := context.Background()
	if _, err := s.Insert(ctx, []Row{ready(1, "shop", "u1", 10, apiv1.VerdictKilled), ready(2, "shop", "u1", 20, apiv1.VerdictGraceful)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, uid, container, want string
	}{
		{"A container's latest readiness is returned.", "u1", "main", fmt.Sprintf("%s/%d/%d", "a", 1, 2)},
		{"A container without one gives nothing.", "u1", "sidecar", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.LastPrediction(ctx, tc.uid, tc.container)
			if err != nil || string(got) != tc.want {
				t.Errorf("LastPrediction = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestPredictionChecks(t *testing.T) {
	summary := func(seq int64, uid string, causes map[string]string) Row {
		r := row("a", 1, seq, uid, apiv1.KindTerminationSummary, 100+seq)
		r.Causes = causes
		return r
	}
	predicted := ready(1, "shop", "u1", 10, apiv1.VerdictKilled) // predicts signal_ignored for main
	cases := []struct {
		name    string
		batches [][]Row
		want    []PredictionCheck // of the last batch
	}{
		{
			name:    "A summary whose cause is the prediction is a check that hit.",
			batches: [][]Row{{predicted}, {summary(2, "u1", map[string]string{"main": apiv1.CauseSignalIgnored})}},
			want:    []PredictionCheck{{Predicted: apiv1.CauseSignalIgnored, Actual: apiv1.CauseSignalIgnored}},
		},
		{
			name:    "A summary with another cause is a miss, even in the prediction's own batch.",
			batches: [][]Row{{predicted, summary(2, "u1", map[string]string{"main": apiv1.CauseHandlerTooSlow})}},
			want:    []PredictionCheck{{Predicted: apiv1.CauseSignalIgnored, Actual: apiv1.CauseHandlerTooSlow}},
		},
		{
			name:    "A container never predicted, and a summary sent again, are not checked.",
			batches: [][]Row{{predicted, summary(2, "u1", map[string]string{"main": apiv1.CauseSignalIgnored})}, {summary(2, "u1", map[string]string{"main": apiv1.CauseSignalIgnored}), summary(3, "u2", map[string]string{"main": apiv1.CauseSignalIgnored})}},
			want:    nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "db"))
			var res InsertResult
			for _, b := range tc.batches {
				var err error
				if res, err = s.Insert(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			if fmt.Sprint(res.Checks) != fmt.Sprint(tc.want) {
				t.Errorf("checks %v, want %v", res.Checks, tc.want)
			}
		})
	}
}
