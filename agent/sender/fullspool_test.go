package sender

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/agent/spool"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestOverflowedSpoolLosesNothingUncounted overflows a small spool while
// the collector is away, then lets the real collector store what is left.
// Every event appended must be stored, or counted by an events_dropped
// event that is stored too: a drop report that shared a delivery key with
// an event made the collector discard one of the two.
func TestOverflowedSpoolLosesNothingUncounted(t *testing.T) {
	c := newCollector(t)
	reg := prometheus.NewRegistry()
	sp, err := spool.Open(t.TempDir(), spool.Options{Node: "node-a", MaxBytes: 64 << 10, SegmentBytes: 4096}, reg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4000
	for i := range n {
		kind := apiv1.KindContainerStarted
		if i%7 == 0 {
			kind = apiv1.KindTerminationSummary
		}
		e := &apiv1.Event{Kind: kind, Node: "node-a", Time: timestamppb.New(base.Add(time.Duration(i))),
			Pod: &apiv1.PodRef{Namespace: "ns", Name: fmt.Sprintf("pod-%d", i), Uid: fmt.Sprintf("uid-%d", i)}}
		if kind == apiv1.KindTerminationSummary {
			e.Verdict = apiv1.VerdictGraceful
		}
		if err := sp.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if value(t, reg, "graceline_spool_dropped_total") == 0 {
		t.Fatal("nothing dropped; the test needs an overflow")
	}
	// What survived the overflow is what a read finds; the sender rewinds
	// before it sends, so this look costs nothing.
	survivors := unread(t, sp)
	runSender(t, sp, reg, c.grpc, agentToken)
	waitFor(t, 60*time.Second, fmt.Sprintf("the %d spooled records acknowledged", survivors), func() bool {
		return value(t, reg, "graceline_spool_acked_total") >= float64(survivors)
	})

	stored, reported := c.events(t)
	if got := len(stored) + int(reported); got != n {
		t.Errorf("%d events stored + %d reported dropped = %d, want the %d appended", len(stored), reported, got, n)
	}
	if reported == 0 {
		t.Error("no events_dropped event stored")
	}
	lastSummary := (n - 1) / 7 * 7
	for _, name := range []string{fmt.Sprintf("pod-%d", n-1), fmt.Sprintf("pod-%d", lastSummary)} {
		if !stored[name] {
			t.Errorf("newest event %s not stored", name)
		}
	}
}

// unread counts the records a read of sp returns now, without waiting:
// Read given a context already done still returns what is there.
func unread(t *testing.T, sp *spool.Spool) int {
	t.Helper()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	for {
		b, err := sp.Read(done, 1000, 1<<30)
		if err != nil {
			return n
		}
		n += len(b.Records)
	}
}

// events reads every stored event: the pods of the events proper, and the
// sum of the counts of the events_dropped ones.
func (c *testCollector) events(t *testing.T) (pods map[string]bool, dropped uint64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(c.dir, "graceline.db")+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), "SELECT body FROM events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	pods = map[string]bool{}
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			t.Fatal(err)
		}
		e := new(apiv1.Event)
		if err := proto.Unmarshal(body, e); err != nil {
			t.Fatalf("stored body is no event: %v", err)
		}
		if e.Kind == apiv1.KindEventsDropped {
			dropped += e.GetDrop().GetCount()
			continue
		}
		pods[e.GetPod().GetName()] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pods, dropped
}
