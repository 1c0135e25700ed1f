package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func openStore(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func row(node string, epoch, seq int64, uid, kind string, t int64) Row {
	return Row{Node: node, Epoch: epoch, Seq: seq, TimeNs: t, Kind: kind, Namespace: "ns", Name: "pod-" + uid, UID: uid,
		Body: []byte(fmt.Sprintf("%s/%d/%d", node, epoch, seq))}
}

func TestInsertIsIdempotent(t *testing.T) {
	a1 := row("a", 1, 1, "u1", apiv1.KindContainerStarted, 10)
	a2 := row("a", 1, 2, "u1", apiv1.KindContainerExited, 20)
	a3 := row("a", 1, 3, "u1", apiv1.KindSandboxStopped, 30)
	cases := []struct {
		name    string
		batches [][]Row
		// want is the New flags of the last batch, and the stored count.
		wantNew   []bool
		wantTotal int64
	}{
		{name: "a batch sent twice is stored once", batches: [][]Row{{a1, a2}, {a1, a2}}, wantNew: []bool{false, false}, wantTotal: 2},
		{name: "a resend that overlaps new records stores only the new ones", batches: [][]Row{{a1, a2}, {a2, a3}}, wantNew: []bool{false, true}, wantTotal: 3},
		{name: "the same sequence number in another epoch is another event", batches: [][]Row{{a1}, {row("a", 2, 1, "u1", apiv1.KindContainerStarted, 11)}}, wantNew: []bool{true}, wantTotal: 2},
		{name: "the same sequence number on another node is another event", batches: [][]Row{{a1}, {row("b", 1, 1, "u2", apiv1.KindContainerStarted, 11)}}, wantNew: []bool{true}, wantTotal: 2},
		{name: "a key repeated inside one batch is stored once", batches: [][]Row{{a1, a1, a2}}, wantNew: []bool{true, false, true}, wantTotal: 2},
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
			if fmt.Sprint(res.New) != fmt.Sprint(tc.wantNew) {
				t.Errorf("new = %v, want %v", res.New, tc.wantNew)
			}
			if n, _ := s.CountEvents(context.Background()); n != tc.wantTotal {
				t.Errorf("%d events stored, want %d", n, tc.wantTotal)
			}
		})
	}
}

func TestLargeBatchSpansChunks(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	var rows []Row
	for i := range 2*chunk + 7 {
		rows = append(rows, row("a", 1, int64(i+1), fmt.Sprintf("u%d", i%9), apiv1.KindContainerStarted, int64(i)))
	}
	res, err := s.Insert(context.Background(), rows)
	if err != nil || res.Stored != len(rows) {
		t.Fatalf("stored %d of %d: %v", res.Stored, len(rows), err)
	}
	res, err = s.Insert(context.Background(), rows)
	if err != nil || res.Duplicates != len(rows) {
		t.Fatalf("second insert: %d duplicates of %d: %v", res.Duplicates, len(rows), err)
	}
}

func TestEventsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(context.Background(), []Row{row("a", 1, 1, "u1", apiv1.KindContainerStarted, 1)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, path)
	// The stream cache is empty now: the key must still be recognised.
	res, err := s.Insert(context.Background(), []Row{row("a", 1, 1, "u1", apiv1.KindContainerStarted, 1)})
	if err != nil || res.Duplicates != 1 {
		t.Fatalf("re-insert after reopen: %+v, %v", res, err)
	}
}

func TestPodQueries(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	old := row("a", 1, 1, "old", apiv1.KindContainerStarted, 100)
	old.Name = "web"
	rows := []Row{
		old,
		{Node: "a", Epoch: 1, Seq: 2, TimeNs: 500, Kind: apiv1.KindTerminationSummary, Verdict: apiv1.VerdictGraceful, Namespace: "ns", Name: "web", UID: "new", Body: []byte("summary")},
		{Node: "a", Epoch: 1, Seq: 3, TimeNs: 300, Kind: apiv1.KindSandboxStopped, Namespace: "ns", Name: "web", UID: "new", Body: []byte("stopped")},
		{Node: "a", Epoch: 1, Seq: 4, TimeNs: 300, Kind: apiv1.KindContainerStopped, Namespace: "ns", Name: "web", UID: "new", Body: []byte("c-stopped")},
		{Node: "b", Epoch: 1, Seq: 1, TimeNs: 400, Kind: apiv1.KindStuck, Namespace: "other", Name: "db", UID: "stuck", Body: []byte("stuck")},
		{Node: "b", Epoch: 1, Seq: 2, TimeNs: 50, Kind: apiv1.KindContainerExited, Namespace: "other", Name: "job", UID: "crashed", Body: []byte("exit")},
	}
	if _, err := s.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	t.Run("the latest incarnation of a pod name wins", func(t *testing.T) {
		p, err := s.LatestPod(ctx, "ns", "web")
		if err != nil || p.UID != "new" || p.TermNs != 300 || p.EndNs != 500 {
			t.Errorf("LatestPod = %+v, %v", p, err)
		}
	})
	t.Run("a pod's events come in time order, ties in the agent's order", func(t *testing.T) {
		evs, err := s.PodEvents(ctx, "new")
		if err != nil || fmt.Sprintf("%s", evs) != "[stopped c-stopped summary]" {
			t.Errorf("PodEvents = %s, %v", evs, err)
		}
	})
	t.Run("an unknown pod is not found", func(t *testing.T) {
		if _, err := s.LatestPod(ctx, "ns", "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("terminations list pods on their way out only", func(t *testing.T) {
		pods, err := s.Terminations(ctx, Filter{})
		if err != nil || len(pods) != 2 || pods[0].UID != "new" || pods[1].UID != "stuck" {
			t.Errorf("Terminations = %+v, %v", pods, err)
		}
		pods, _ = s.Terminations(ctx, Filter{Node: "b"})
		if len(pods) != 1 || pods[0].UID != "stuck" {
			t.Errorf("Terminations on node b = %+v", pods)
		}
		pods, _ = s.Terminations(ctx, Filter{Namespace: "ns", SinceNs: 501})
		if len(pods) != 0 {
			t.Errorf("Terminations since 501 = %+v", pods)
		}
	})
	t.Run("stuck pods are those whose stuck report is the latest word", func(t *testing.T) {
		pods, err := s.StuckPods(ctx, Filter{})
		if err != nil || len(pods) != 1 || pods[0].UID != "stuck" {
			t.Errorf("StuckPods = %+v, %v", pods, err)
		}
		if _, err := s.Insert(ctx, []Row{{Node: "b", Epoch: 1, Seq: 3, TimeNs: 900, Kind: apiv1.KindPodDeleted, Namespace: "other", Name: "db", UID: "stuck", Body: []byte("gone")}}); err != nil {
			t.Fatal(err)
		}
		if pods, _ := s.StuckPods(ctx, Filter{}); len(pods) != 0 {
			t.Errorf("StuckPods after removal = %+v", pods)
		}
	})
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	var rows []Row
	for i := range purgeBatch + 10 {
		rows = append(rows, row("a", 1, int64(i+1), fmt.Sprintf("u%d", i%3), apiv1.KindContainerStarted, int64(i)))
	}
	rows = append(rows, row("a", 1, int64(len(rows)+1), "recent", apiv1.KindContainerStarted, 1_000_000))
	if _, err := s.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	n, err := s.Purge(ctx, purgeBatch+10)
	if err != nil || n != purgeBatch+10 {
		t.Fatalf("Purge deleted %d, %v; want %d", n, err, purgeBatch+10)
	}
	if left, _ := s.CountEvents(ctx); left != 1 {
		t.Errorf("%d events left, want 1", left)
	}
	if _, err := s.PodByUID(ctx, "u1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("purged pod still listed: %v", err)
	}
	if _, err := s.PodByUID(ctx, "recent"); err != nil {
		t.Errorf("recent pod purged: %v", err)
	}
}
