package spool

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestKeysStayUniqueAcrossDrops fills a small spool far past its bound and
// checks the two promises a full spool makes: no two records share a
// delivery key (the collector would keep only one of them), and every event
// appended is either still spooled or counted by an events_dropped record.
func TestKeysStayUniqueAcrossDrops(t *testing.T) {
	cases := []struct {
		name string
		// kind picks the kind of the i-th event appended.
		kind func(i int) string
		n    int
	}{
		{
			name: "raw events with a summary every tenth overflow the spool",
			kind: func(i int) string {
				if i%10 == 0 {
					return apiv1.KindTerminationSummary
				}
				return apiv1.KindContainerStarted
			},
			n: 4000,
		},
		{
			name: "summaries alone overflow the priority lane",
			kind: func(int) string { return apiv1.KindTerminationSummary },
			n:    3000,
		},
		{
			name: "alternating raw events and summaries overflow both lanes",
			kind: func(i int) string {
				if i%2 == 0 {
					return apiv1.KindTerminationSummary
				}
				return apiv1.KindContainerStarted
			},
			n: 3000,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := open(t, t.TempDir(), Options{MaxBytes: 64 << 10, SegmentBytes: 4096})
			defer s.Close()
			for i := range tc.n {
				if err := s.Append(event(tc.kind(i), i)); err != nil {
					t.Fatal(err)
				}
			}
			if counter(t, s.m.dropped.WithLabelValues(dropFull)) == 0 {
				t.Fatal("nothing dropped; the test needs an overflow")
			}
			keys := map[string]string{}
			kept := map[string]bool{}
			var reported uint64
			for _, r := range readAll(t, s) {
				e := new(apiv1.Event)
				if err := proto.Unmarshal(r.Event, e); err != nil {
					t.Fatalf("record %v holds no event: %v", r.Key, err)
				}
				k := fmt.Sprintf("%s/%d/%d", r.Key.Node, r.Key.Epoch, r.Key.Seq)
				what := e.Kind + " " + e.GetPod().GetName()
				if prev, dup := keys[k]; dup {
					t.Errorf("key %s is used by %q and by %q", k, prev, what)
				}
				keys[k] = what
				if e.Kind == apiv1.KindEventsDropped {
					reported += e.GetDrop().GetCount()
					continue
				}
				kept[what] = true
			}
			if got := uint64(len(kept)) + reported; got != uint64(tc.n) {
				t.Errorf("%d events spooled + %d reported dropped = %d, want the %d appended", len(kept), reported, got, tc.n)
			}
			for i := range tc.n {
				// The newest event of each kind always survives.
				if i >= tc.n-2 && !kept[tc.kind(i)+" "+fmt.Sprintf("pod-%d", i)] {
					t.Errorf("newest event pod-%d is not in the spool", i)
				}
			}
		})
	}
}

// readAll returns every unread record without waiting: Read given a context
// that is already done still returns what is there, and only then fails.
func readAll(t *testing.T, s *Spool) []*apiv1.Record {
	t.Helper()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	var out []*apiv1.Record
	for {
		b, err := s.Read(done, 100, 1<<20)
		if err != nil {
			return out
		}
		out = append(out, b.Records...)
	}
}
