package query

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

// owners is a fixed answer of the Kubernetes watches, by pod name.
type owners map[string]*apiv1.WorkloadRef

func (o owners) PodOwner(_, name string) (*apiv1.WorkloadRef, time.Duration, bool) {
	w, ok := o[name]
	return w, 30 * time.Second, ok
}

// checkedCluster stores, as nodes and the cluster side send them, the
// readiness of three running pods and one past termination:
//   - web-1 of Deployment web, whose init handles SIGTERM, and whose
//     workload's pod web-0 was killed an hour before now because its
//     handler was too slow;
//   - lone, without an owner, whose init handles SIGTERM;
//   - db/ignores, without an owner, whose init ignores SIGTERM.
func checkedCluster(t *testing.T, now time.Time) *Service {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := func(ago time.Duration) int64 { return now.Add(-ago).UnixNano() }
	// A readiness of pod name (uid) whose init handles SIGTERM, as a node
	// sends it: its own prediction is a clean exit.
	handles := func(seq int64, uid, name string) store.Row {
		body, err := proto.Marshal(&apiv1.Event{Kind: apiv1.KindTerminationReadiness, Time: timestamppb.New(now.Add(-time.Minute)),
			Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM"}, Disposition: "handler",
			Processes:  []*apiv1.Process{{Pid: 7, Comm: "sh", SigCaught: []string{"SIGTERM"}}},
			Prediction: &apiv1.Prediction{Outcome: apiv1.VerdictGraceful, Cause: apiv1.CauseExitedOnStopSignal}})
		if err != nil {
			t.Fatal(err)
		}
		return store.Row{Node: "n1", Epoch: 1, Seq: seq, TimeNs: at(time.Minute), Kind: apiv1.KindTerminationReadiness, Namespace: "shop", Name: name, UID: uid, Body: body,
			Readiness: store.ReadinessFacts{Container: "main", Outcome: apiv1.VerdictGraceful, Cause: apiv1.CauseExitedOnStopSignal}}
	}
	// An earlier pod of Deployment web, killed because its handler was too
	// slow, as the cluster side stores its deletion.
	cluster := func(seq int64, kind string, ago time.Duration) store.Row {
		return store.Row{Cluster: true, Seq: seq, TimeNs: at(ago), Kind: kind, Namespace: "shop", Name: "web-0", UID: "u0", Node: "n1", Body: []byte(kind)}
	}
	del := cluster(101, apiv1.KindDeleteRequested, time.Hour)
	del.Report = store.ReportFacts{Initiator: apiv1.InitiatorRollout, WorkloadKind: "Deployment", WorkloadName: "web"}
	final := cluster(103, apiv1.KindTerminationSummary, time.Hour-40*time.Second)
	final.Verdict, final.Report = apiv1.VerdictKilled, store.ReportFacts{Cause: apiv1.CauseHandlerTooSlow}
	ignoresBody, err := proto.Marshal(&apiv1.Event{Kind: apiv1.KindTerminationReadiness, Time: timestamppb.New(now.Add(-time.Minute)),
		Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM"}, Disposition: "ignored",
		Processes:  []*apiv1.Process{{Pid: 7, Comm: "app", SigIgnored: []string{"SIGTERM"}}},
		Prediction: &apiv1.Prediction{Outcome: apiv1.VerdictKilled, Cause: apiv1.CauseSignalIgnored}})
	if err != nil {
		t.Fatal(err)
	}
	ignores := store.Row{Node: "n1", Epoch: 1, Seq: 3, TimeNs: at(time.Minute), Kind: apiv1.KindTerminationReadiness, Namespace: "db", Name: "ignores", UID: "u3", Body: ignoresBody,
		Readiness: store.ReadinessFacts{Container: "main", Outcome: apiv1.VerdictKilled, Cause: apiv1.CauseSignalIgnored}}
	rows := []store.Row{del, cluster(102, apiv1.KindPodDeleted, time.Hour-31*time.Second), final, handles(1, "u1", "web-1"), handles(2, "u2", "lone"), ignores}
	if _, err := st.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	svc := NewService(st, watch.NewHub(prometheus.NewRegistry()), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	svc.SetOwners(owners{"web-1": {Kind: "Deployment", Name: "web"}, "lone": nil, "ignores": nil})
	return svc
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	svc := checkedCluster(t, now)

	cases := []struct {
		name      string
		f         CheckFilter
		wantPods  []string
		wantCause map[string]string
		wantErr   string
	}{
		{name: "A Deployment's pod is judged again with its history; a pod without an owner keeps the node's prediction.",
			f: CheckFilter{Namespace: "shop"}, wantPods: []string{"lone", "web-1"},
			wantCause: map[string]string{"web-1": apiv1.CauseHandlerTooSlow, "lone": apiv1.CauseExitedOnStopSignal}},
		{name: "A workload, named in any case, keeps only its pods.",
			f: CheckFilter{Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "deployment", Name: "web"}}, wantPods: []string{"web-1"},
			wantCause: map[string]string{"web-1": apiv1.CauseHandlerTooSlow}},
		{name: "A history that starts after the last termination has no cause to go by.",
			f: CheckFilter{Namespace: "shop", Pod: "web-1", Since: now.Add(-time.Minute)}, wantPods: []string{"web-1"},
			wantCause: map[string]string{"web-1": apiv1.CauseExitedOnStopSignal}},
		{name: "A pod without its namespace is refused.", f: CheckFilter{Pod: "web-1"}, wantErr: "within its namespace"},
		{name: "A workload without its name is refused.", f: CheckFilter{Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "Deployment"}}, wantErr: "want its kind, its name"},
		{name: "A history that starts in the future is refused.", f: CheckFilter{Namespace: "shop", Since: now.Add(time.Hour)}, wantErr: "in the future"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := svc.Check(ctx, tc.f, now)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want an invalid request saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var pods []string
			for _, c := range got {
				pods = append(pods, c.GetPod().GetName())
				// The watches know every pod's grace period, an owner's or not.
				if c.GetGrace().AsDuration() != 30*time.Second {
					t.Errorf("%s: grace %s, want 30s", c.GetPod().GetName(), c.GetGrace().AsDuration())
				}
				if want := tc.wantCause[c.GetPod().GetName()]; c.GetPrediction().GetCause() != want {
					t.Errorf("%s: predicted %s, want %s", c.GetPod().GetName(), c.GetPrediction().GetCause(), want)
				}
				if c.GetPod().GetName() == "web-1" && tc.f.Since.IsZero() && (c.Terminations != 1 || c.Killed != 1 || c.GetShutdownP95().AsDuration() != 31*time.Second) {
					t.Errorf("web-1's history: %d terminations, %d killed, p95 %s; want 1, 1 and 31s", c.Terminations, c.Killed, c.GetShutdownP95().AsDuration())
				}
			}
			if strings.Join(pods, ",") != strings.Join(tc.wantPods, ",") {
				t.Errorf("pods %v, want %v", pods, tc.wantPods)
			}
		})
	}
}

func TestPredictedKills(t *testing.T) {
	now := time.Now()
	svc := checkedCluster(t, now)
	for _, tc := range []struct {
		name string
		now  time.Time
		want map[string]int
	}{
		{"A container is counted as the check predicts it: by its init, or by its workload's last termination.", now,
			map[string]int{"shop": 1, "db": 1}},
		{"A last termination older than the check's history no longer counts.", now.Add(DefaultCheckHistory + time.Hour),
			map[string]int{"db": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := svc.PredictedKills(context.Background(), tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			// The gauge and `check -A` must not disagree.
			checks, err := svc.Check(context.Background(), CheckFilter{}, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			fromCheck := map[string]int{}
			for _, c := range checks {
				if c.GetPrediction().GetOutcome() == apiv1.VerdictKilled {
					fromCheck[c.Namespace]++
				}
			}
			if !maps.Equal(fromCheck, got) {
				t.Errorf("check -A predicts kills %v, the gauge counts %v", fromCheck, got)
			}
		})
	}
}
