package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// deletion is one pod's cluster events as the API watches store them.
type deletion struct {
	ns, uid, kind, name, initiator string
	delNs, goneNs                  int64 // goneNs 0: still there
	final                          bool
	verdict, cause                 string
	risk, stuck                    bool
}

func (d deletion) rows() []Row {
	base := func(kind string, at int64, seq int64) Row {
		return Row{Cluster: true, Seq: seq, TimeNs: at, Kind: kind, Namespace: d.ns, Name: "pod-" + d.uid, UID: d.uid, Node: "n1",
			Body: []byte(d.uid + kind)}
	}
	h := int64(len(d.uid)) << 20
	for _, c := range d.uid {
		h = h*31 + int64(c)
	}
	del := base(apiv1.KindDeleteRequested, d.delNs, h+1)
	del.Report = ReportFacts{Initiator: d.initiator, WorkloadKind: d.kind, WorkloadName: d.name}
	out := []Row{del}
	if d.stuck {
		out = append(out, base(apiv1.KindStuck, d.delNs+1, h+2))
	}
	if d.goneNs > 0 {
		out = append(out, base(apiv1.KindPodDeleted, d.goneNs, h+3))
	}
	if d.final {
		s := base(apiv1.KindTerminationSummary, d.goneNs+5, h+4)
		s.Verdict = d.verdict
		s.Report = ReportFacts{TrafficRisk: d.risk, Cause: d.cause, Advice: "advice for " + d.cause + " " + d.uid}
		out = append(out, s)
	}
	return out
}

// nearestRank is the p-th percentile of values by nearest rank, written
// apart from the store's SQL.
func nearestRank(values []int64, p int) int64 {
	if len(values) == 0 {
		return 0
	}
	v := slices.Clone(values)
	slices.Sort(v)
	k := (len(v)*p + 99) / 100
	return v[k-1]
}

func TestReportSumsUpEachWorkloadFromSQL(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	since := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	rng := rand.New(rand.NewPCG(1, 2))

	// Deployment shop/web: 23 pods with random durations and outcomes.
	var web []deletion
	var durs []int64
	var killed, risk int64
	causes := map[string]int{}
	for i := range 23 {
		d := deletion{ns: "shop", uid: fmt.Sprintf("web-%02d", i), kind: "Deployment", name: "web", initiator: apiv1.InitiatorRollout,
			delNs: since + int64(i)*int64(time.Minute), final: true, verdict: apiv1.VerdictGraceful, cause: apiv1.CauseExitedOnStopSignal}
		dur := int64(rng.IntN(30000)+1) * int64(time.Millisecond)
		d.goneNs = d.delNs + dur
		if rng.IntN(3) == 0 {
			d.verdict, d.cause = apiv1.VerdictKilled, apiv1.CauseSignalIgnored
			killed++
		}
		if i%5 == 0 {
			d.risk = true
			risk++
		}
		if i%4 == 0 {
			d.initiator = apiv1.InitiatorAPIDelete
		}
		durs = append(durs, dur)
		causes[d.cause]++
		web = append(web, d)
	}
	topCause, topCount := "", 0
	for c, n := range causes {
		if n > topCount {
			topCause, topCount = c, n
		}
	}
	latestAdvice := ""
	for _, d := range web {
		if d.cause == topCause {
			latestAdvice = "advice for " + d.cause + " " + d.uid
		}
	}
	others := []deletion{
		// A StatefulSet pod held by finalizers: stuck, not finished.
		{ns: "shop", uid: "db-0", kind: "StatefulSet", name: "db", initiator: apiv1.InitiatorScaleDown, delNs: since + 1, stuck: true},
		// Before the window.
		{ns: "shop", uid: "old", kind: "Deployment", name: "web", initiator: apiv1.InitiatorRollout, delNs: since - 1, goneNs: since + 10, final: true, verdict: apiv1.VerdictKilled, cause: apiv1.CauseOOMKilled},
		// No owner workload.
		{ns: "shop", uid: "bare", initiator: apiv1.InitiatorAPIDelete, delNs: since + 2, goneNs: since + 20, final: true, verdict: apiv1.VerdictGraceful},
		// Another namespace.
		{ns: "other", uid: "job-x", kind: "Job", name: "batch", initiator: apiv1.InitiatorJob, delNs: since + 3, goneNs: since + 30, final: true, verdict: apiv1.VerdictKilled, cause: apiv1.CauseHandlerTooSlow},
	}
	var rows []Row
	for _, d := range append(web, others...) {
		rows = append(rows, d.rows()...)
	}
	// The rows come in two batches, the second again, as a restarted
	// collector's watches would resend them: nothing may count twice.
	for _, b := range [][]Row{rows[:len(rows)/2], rows[len(rows)/2:], rows} {
		if _, err := s.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}

	got, err := s.Report(ctx, "shop", since)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("report has %d workloads, want Deployment web and StatefulSet db: %+v", len(got), got)
	}
	w := got[0]
	want := WorkloadReport{Namespace: "shop", Kind: "Deployment", Name: "web", Terminations: 23, Finished: 23, Killed: killed, TrafficRisk: risk,
		P50Ns: nearestRank(durs, 50), P95Ns: nearestRank(durs, 95), Cause: topCause, CauseCount: int64(topCount), Advice: latestAdvice,
		Initiators: map[string]int64{apiv1.InitiatorAPIDelete: 6, apiv1.InitiatorRollout: 17}}
	if fmt.Sprint(w) != fmt.Sprint(want) {
		t.Errorf("Deployment web:\n got %+v\nwant %+v", w, want)
	}
	db := got[1]
	wantDB := WorkloadReport{Namespace: "shop", Kind: "StatefulSet", Name: "db", Terminations: 1, Stuck: 1, Initiators: map[string]int64{apiv1.InitiatorScaleDown: 1}}
	if fmt.Sprint(db) != fmt.Sprint(wantDB) {
		t.Errorf("StatefulSet db:\n got %+v\nwant %+v", db, wantDB)
	}

	all, err := s.Report(ctx, "", since)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Namespace != "other" || all[0].Kind != "Job" || all[0].Killed != 1 || all[0].P50Ns != 27 {
		t.Errorf("report of every namespace = %+v, want other's Job batch (1 killed, 27 ns) first, then shop's two", all)
	}
}

func TestReportOfAnEmptyWindowIsEmpty(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	got, err := s.Report(context.Background(), "", time.Now().UnixNano())
	if err != nil || len(got) != 0 {
		t.Errorf("Report on an empty store = %v, %v; want nothing", got, err)
	}
}
