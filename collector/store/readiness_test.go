package store

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

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
	// handles is a readiness whose init handles SIGTERM, as a node sends it.
	handles := ready(1, "shop", "u1", 10, apiv1.VerdictGraceful)
	handles.Readiness.Cause = apiv1.CauseExitedOnStopSignal
	body, err := proto.Marshal(&apiv1.Event{Kind: apiv1.KindTerminationReadiness, Time: timestamppb.New(time.Unix(0, 10)), Signal: &apiv1.Signal{Number: 15},
		Processes: []*apiv1.Process{{Pid: 1, Comm: "sh", SigCaught: []string{"SIGTERM"}}}})
	if err != nil {
		t.Fatal(err)
	}
	handles.Body = body
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
			name: "The cause of the workload's termination before this one comes with the check.",
			batches: [][]Row{
				deletion{ns: "shop", uid: "u0", kind: "Deployment", name: "web", delNs: 1, goneNs: 2, final: true, verdict: apiv1.VerdictKilled, cause: apiv1.CauseHandlerTooSlow}.rows(),
				append(deletion{ns: "shop", uid: "u1", kind: "Deployment", name: "web", delNs: 5}.rows(), handles, summary(2, "u1", map[string]string{"main": apiv1.CauseHandlerTooSlow})),
			},
			want: []PredictionCheck{{Predicted: apiv1.CauseHandlerTooSlow, Actual: apiv1.CauseHandlerTooSlow}},
		},
		{
			name:    "Without a workload's history, a handler is predicted to exit.",
			batches: [][]Row{{handles, summary(2, "u1", map[string]string{"main": apiv1.CauseHandlerTooSlow})}},
			want:    []PredictionCheck{{Predicted: apiv1.CauseExitedOnStopSignal, Actual: apiv1.CauseHandlerTooSlow}},
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

func TestRunningReadiness(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	ctx := context.Background()
	batch := []Row{ready(1, "shop", "u1", 10, apiv1.VerdictKilled), ready(2, "db", "u2", 10, apiv1.VerdictGraceful),
		ready(3, "shop", "u3", 10, apiv1.VerdictGraceful), row("a", 1, 4, "u3", apiv1.KindSandboxStopped, 30)}
	for i := range batch {
		batch[i].Name = "pod-" + batch[i].UID
	}
	if _, err := s.Insert(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, namespace, pod string
		want                 []string
	}{
		{"Every namespace's running pods are listed, a stopping one is not.", "", "", []string{"db/pod-u2/main", "shop/pod-u1/main"}},
		{"A namespace restricts the list.", "shop", "", []string{"shop/pod-u1/main"}},
		{"A pod name restricts it further.", "db", "pod-u2", []string{"db/pod-u2/main"}},
		{"An unknown pod gives nothing.", "db", "pod-u9", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.RunningReadiness(ctx, tc.namespace, tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.Namespace+"/"+r.Pod+"/"+r.Container)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// pastTerminations stores the finished and unfinished terminations that
// TestHistory and TestLastCauses sum up.
func pastTerminations(t *testing.T) *Store {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	killed, graceful := apiv1.VerdictKilled, apiv1.VerdictGraceful
	var batch []Row
	for _, d := range []deletion{
		{ns: "shop", uid: "w1", kind: "Deployment", name: "web", delNs: 100, goneNs: 100 + 2e9, final: true, verdict: graceful, cause: apiv1.CauseExitedOnStopSignal},
		{ns: "shop", uid: "w2", kind: "Deployment", name: "web", delNs: 200, goneNs: 200 + 31e9, final: true, verdict: killed, cause: apiv1.CauseHandlerTooSlow},
		{ns: "shop", uid: "w3", kind: "Deployment", name: "web", delNs: 300, goneNs: 0},
		{ns: "shop", uid: "w0", kind: "Deployment", name: "web", delNs: 50, goneNs: 50 + 1e9, final: true, verdict: graceful, cause: apiv1.CauseExitedOnStopSignal},
		{ns: "shop", uid: "b1", name: "", delNs: 100, goneNs: 100 + 31e9, final: true, verdict: killed, cause: apiv1.CauseSignalIgnored},
	} {
		batch = append(batch, d.rows()...)
	}
	if _, err := s.Insert(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHistories(t *testing.T) {
	s := pastTerminations(t)
	ctx := context.Background()
	web, lone := HistoryOf{"shop", "Deployment", "web"}, HistoryOf{"shop", "", "pod-b1"}
	for _, tc := range []struct {
		name      string
		namespace string
		since     int64
		want      map[HistoryOf]History
	}{
		{"A workload's finished terminations since the start are summed up, the latest cause last; a pod without an owner is known by its name.", "shop", 60,
			map[HistoryOf]History{web: {Finished: 2, Killed: 1, P95Ns: 31e9, LastCause: apiv1.CauseHandlerTooSlow}, lone: {Finished: 1, Killed: 1, P95Ns: 31e9, LastCause: apiv1.CauseSignalIgnored}}},
		{"An earlier start takes in more.", "shop", 0,
			map[HistoryOf]History{web: {Finished: 3, Killed: 1, P95Ns: 31e9, LastCause: apiv1.CauseHandlerTooSlow}, lone: {Finished: 1, Killed: 1, P95Ns: 31e9, LastCause: apiv1.CauseSignalIgnored}}},
		{"Every namespace is read when none is given.", "", 150,
			map[HistoryOf]History{web: {Finished: 1, Killed: 1, P95Ns: 31e9, LastCause: apiv1.CauseHandlerTooSlow}}},
		{"An unfinished termination is no history.", "", 250, map[HistoryOf]History{}},
		{"Another namespace has no history here.", "db", 0, map[HistoryOf]History{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Histories(ctx, tc.namespace, tc.since)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// BenchmarkHistories reads the histories a `check -A` judges with, on a
// store holding a week of a large cluster's deletions: 50,000 finished
// terminations of 1,000 Deployments in 10 namespaces.
func BenchmarkHistories(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "db"))
	ctx := context.Background()
	const terminations, workloads = 50_000, 1_000
	var batch []Row
	for i := range terminations {
		w := i % workloads
		d := deletion{ns: fmt.Sprintf("ns-%d", w%10), uid: fmt.Sprintf("u%d", i), kind: "Deployment", name: fmt.Sprintf("web-%d", w),
			delNs: int64(i+1) * 1e9, goneNs: int64(i+1)*1e9 + 2e9, final: true, verdict: apiv1.VerdictGraceful, cause: apiv1.CauseExitedOnStopSignal}
		batch = append(batch, d.rows()...)
		if len(batch) >= 20_000 {
			if _, err := s.Insert(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := s.Insert(ctx, batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		h, err := s.Histories(ctx, "", 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(h) != workloads {
			b.Fatalf("%d histories, want %d", len(h), workloads)
		}
	}
}
