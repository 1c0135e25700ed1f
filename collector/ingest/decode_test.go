package ingest

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestDecodeRefuses(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	key := func(node string, seq uint64) *apiv1.DeliveryKey {
		return &apiv1.DeliveryKey{Node: node, Epoch: 1, Seq: seq}
	}
	at := func(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
	// invalidUTF8 is an event whose kind is the byte 0xff: no Go encoder
	// writes that, a hostile or broken client can.
	invalidUTF8 := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "\xff")
	tests := []struct {
		name       string
		streamNode string
		rec        *apiv1.Record
		want       string // rejection reason; empty: stored
	}{
		{"an event of the agent's own node is stored", "",
			&apiv1.Record{Key: key("n1", 1), Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Node: "n1", Time: at(now)})}, ""},
		{"an event dated year 10000 is refused", "",
			&apiv1.Record{Key: key("n1", 1), Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Time: &timestamppb.Timestamp{Seconds: 253402300800}})}, rejectTime},
		{"an event dated 1677 is refused", "",
			&apiv1.Record{Key: key("n1", 1), Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Time: at(time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC))})}, rejectTime},
		{"an event two hours in the collector's future is refused", "",
			&apiv1.Record{Key: key("n1", 1), Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Time: at(now.Add(2 * time.Hour))})}, rejectTime},
		{"an event a minute in the collector's future is stored", "",
			&apiv1.Record{Key: key("n1", 1), Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Time: at(now.Add(time.Minute))})}, ""},
		{"an event that claims to come from the API is refused", "",
			&apiv1.Record{Key: key("n1", 1), Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindPodDeleted, Source: apiv1.SourceAPI})}, rejectSource},
		{"an event naming another node than its key is refused", "",
			&apiv1.Record{Key: key("n1", 1), Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Node: "n2"})}, rejectNode},
		{"a record for another node than the stream's is refused", "n1",
			&apiv1.Record{Key: key("n2", 1), Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Node: "n2"})}, rejectNode},
		{"an event over the size limit is refused", "",
			&apiv1.Record{Key: key("n1", 1), Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Evidence: []string{strings.Repeat("x", apiv1.MaxEventBytes)}})}, rejectTooLarge},
		{"an event with a string that is not UTF-8 is refused", "",
			&apiv1.Record{Key: key("n1", 1), Event: invalidUTF8}, rejectEvent},
		{"a key with a node name that is not UTF-8 is refused", "",
			&apiv1.Record{Key: key("n\xff", 1), Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck})}, rejectKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := &decoder{limits: DefaultLimits(), now: now, node: tt.streamNode}
			_, _, err := dc.decode(tt.rec)
			var got string
			if err != nil {
				got = err.(rejection).reason
			}
			if got != tt.want {
				t.Fatalf("reason %q, want %q (err %v)", got, tt.want, err)
			}
		})
	}
}

func TestDecodeBatch(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ev := func(node string) []byte { return mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Node: node}) }
	tests := []struct {
		name         string
		max          int
		bound        string
		nodes        []string
		wantRows     int
		wantRejected map[string]int
	}{
		{"records past the batch limit are refused and the rest stored", 3, "", []string{"a", "a", "a", "a", "a"}, 3, map[string]int{rejectBatchFull: 2}},
		{"the first record names the stream's node, later others are refused", 10, "", []string{"a", "b", "a"}, 2, map[string]int{rejectNode: 1}},
		{"a token bound to a node refuses another node's records, even first", 10, "a", []string{"b", "a", "b"}, 1, map[string]int{rejectForgedNode: 2}},
		{"a token bound to a node stores that node's records", 10, "a", []string{"a", "a"}, 2, map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limits := DefaultLimits()
			limits.MaxBatchRecords = tt.max
			dc := &decoder{limits: limits, now: now, bound: tt.bound, node: tt.bound}
			b := &apiv1.Batch{Id: 1}
			for i, n := range tt.nodes {
				b.Records = append(b.Records, &apiv1.Record{Key: &apiv1.DeliveryKey{Node: n, Epoch: 1, Seq: uint64(i + 1)}, Event: ev(n)})
			}
			d := dc.batch(b)
			if len(d.rows) != tt.wantRows {
				t.Errorf("%d rows, want %d", len(d.rows), tt.wantRows)
			}
			got := map[string]int{}
			for _, r := range d.rejected {
				got[r.reason]++
			}
			for reason, n := range tt.wantRejected {
				if got[reason] != n {
					t.Errorf("%d rejected as %s, want %d (all: %v)", got[reason], reason, n, got)
				}
			}
		})
	}
}
