package spool

import (
	"errors"
	"strings"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestFullSpool(t *testing.T) {
	cases := []struct {
		name      string
		summaries int // termination summaries appended before the raw flood
		raw       int
		// check looks at what is delivered once the collector is back.
		check func(t *testing.T, got []*apiv1.Event, dropped float64)
	}{
		{
			name:      "the oldest raw events go first and the summaries stay",
			summaries: 20,
			raw:       3000,
			check: func(t *testing.T, got []*apiv1.Event, dropped float64) {
				if n := count(got, apiv1.KindTerminationSummary); n != 20 {
					t.Errorf("%d summaries delivered, want all 20", n)
				}
				raws := byKind(got, apiv1.KindContainerStarted)
				if raws[len(raws)-1].GetPod().GetName() != "pod-2999" {
					t.Errorf("newest raw event lost: last delivered is %s", raws[len(raws)-1].GetPod().GetName())
				}
				if raws[0].GetPod().GetName() == "pod-0" {
					t.Error("oldest raw event kept although the spool overflowed")
				}
				if int(dropped)+len(raws) != 3000 {
					t.Errorf("dropped %v + delivered %d raw events != 3000 appended", dropped, len(raws))
				}
			},
		},
		{
			name:      "summaries are dropped too once no raw event is left",
			summaries: 3000,
			check: func(t *testing.T, got []*apiv1.Event, dropped float64) {
				sums := byKind(got, apiv1.KindTerminationSummary)
				if dropped == 0 || int(dropped)+len(sums) != 3000 {
					t.Errorf("dropped %v + delivered %d summaries != 3000 appended", dropped, len(sums))
				}
				if sums[len(sums)-1].GetPod().GetName() != "pod-2999" {
					t.Errorf("newest summary lost")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const max = 64 << 10
			s, _ := open(t, dir, Options{MaxBytes: max, SegmentBytes: 4096})
			defer s.Close()
			for i := 0; i < tc.summaries; i++ {
				if err := s.Append(event(apiv1.KindTerminationSummary, i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < tc.raw; i++ {
				if err := s.Append(event(apiv1.KindContainerStarted, i)); err != nil {
					t.Fatal(err)
				}
				if b := s.bytes(); b > max {
					t.Fatalf("spool holds %d bytes, over its bound of %d", b, max)
				}
			}
			got := drain(t, s, true)
			dropped := counter(t, s.m.dropped.WithLabelValues(dropFull))
			if dropped == 0 {
				t.Fatal("nothing dropped; the test needs an overflow")
			}
			var reported uint64
			for _, e := range byKind(got, apiv1.KindEventsDropped) {
				if e.GetDrop().GetReason() != apiv1.DropReasonSpoolFull || e.GetNode() != "node-a" {
					t.Errorf("drop event %v", e)
				}
				reported += e.GetDrop().GetCount()
			}
			if float64(reported) != dropped {
				t.Errorf("drop events report %d, metric says %v", reported, dropped)
			}
			if reported == 0 {
				t.Error("no events_dropped event delivered")
			}
			tc.check(t, got, dropped)
		})
	}
}

func TestOversizedEventIsRefused(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64
		evidence int
	}{
		{"an event larger than a small spool's record bound is refused", 64 << 10, 20 << 10},
		{"an event over the collector's limit is refused by a default spool", 0, apiv1.MaxEventBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t, t.TempDir(), Options{MaxBytes: tt.maxBytes})
			defer s.Close()
			e := event(apiv1.KindStuck, 0)
			e.Evidence = []string{strings.Repeat("x", tt.evidence)}
			if err := s.Append(e); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Append of a %d-byte event = %v, want ErrTooLarge", tt.evidence, err)
			}
			if c := counter(t, s.m.dropped.WithLabelValues(dropTooLarge)); c != 1 {
				t.Errorf("dropped{too_large} = %v, want 1", c)
			}
		})
	}
}

func byKind(events []*apiv1.Event, kind string) []*apiv1.Event {
	var out []*apiv1.Event
	for _, e := range events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func count(events []*apiv1.Event, kind string) int { return len(byKind(events, kind)) }
