package ingest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// FuzzDecodeBatch feeds arbitrary bytes to ingest's decoding, as a batch
// off the wire. Whatever arrives, decoding must not panic, must account for
// every record, and must only pass on rows that the store can key and that
// follow the rules of what an agent may write: its own node only, no
// event of the API's, a time in the accepted window, no event over the size
// limit.
func FuzzDecodeBatch(f *testing.F) {
	ev, _ := proto.Marshal(&apiv1.Event{Kind: apiv1.KindContainerExited, Node: "n", Time: timestamppb.New(time.Unix(1, 2)),
		Pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}})
	good := &apiv1.Batch{Id: 7, Records: []*apiv1.Record{
		{Key: &apiv1.DeliveryKey{Node: "n", Epoch: 1, Seq: 1}, Event: ev},
		{Key: &apiv1.DeliveryKey{Node: "n", Epoch: 1, Seq: 2}, Event: []byte("not an event")},
		{Key: &apiv1.DeliveryKey{Node: "", Epoch: 1, Seq: 3}, Event: ev},
		{Event: ev},
		{Key: &apiv1.DeliveryKey{Node: "other", Epoch: 1, Seq: 4}, Event: ev},
		{Key: &apiv1.DeliveryKey{Node: "n", Epoch: 1, Seq: 5}, Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindPodDeleted, Source: apiv1.SourceAPI})},
		{Key: &apiv1.DeliveryKey{Node: "n", Epoch: 1, Seq: 6}, Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Time: &timestamppb.Timestamp{Seconds: 253402300800}})},
		{Key: &apiv1.DeliveryKey{Node: "n", Epoch: 1, Seq: 7}, Event: mustMarshal(&apiv1.Event{Kind: apiv1.KindStuck, Node: "m"})},
	}}
	b, _ := proto.Marshal(good)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{0x12, 0x05, 0x0a, 0x03, 0x0a, 0x01, 'n'})
	f.Add([]byte{})
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		var batch apiv1.Batch
		if proto.Unmarshal(data, &batch) != nil {
			return // gRPC refuses such a message before ingest sees it
		}
		limits := DefaultLimits()
		limits.MaxBatchRecords = 8
		dc := &decoder{limits: limits, now: now}
		d := dc.batch(&batch)
		if len(d.rows)+len(d.rejected) != len(batch.Records) || len(d.rows) != len(d.events) {
			t.Fatalf("%d records became %d rows, %d events, %d rejections", len(batch.Records), len(d.rows), len(d.events), len(d.rejected))
		}
		for i, r := range d.rows {
			if r.Node == "" || len(r.Node) > maxNodeName || r.Epoch <= 0 || r.Seq <= 0 || r.Kind == "" {
				t.Fatalf("row %d cannot be keyed: %+v", i, r)
			}
			if r.Kind != d.events[i].Kind {
				t.Fatalf("row kind %q, event kind %q", r.Kind, d.events[i].Kind)
			}
			e := d.events[i]
			switch {
			case r.Node != d.rows[0].Node:
				t.Fatalf("row %d is for node %q on the stream of node %q", i, r.Node, d.rows[0].Node)
			case e.Node != "" && e.Node != r.Node:
				t.Fatalf("row %d of node %q carries an event of node %q", i, r.Node, e.Node)
			case e.Source == apiv1.SourceAPI:
				t.Fatalf("row %d claims the API as its source", i)
			case r.TimeNs < oldestTime.UnixNano() || r.TimeNs > now.Add(limits.MaxClockSkew).UnixNano():
				t.Fatalf("row %d is dated %d, outside the accepted window", i, r.TimeNs)
			case len(r.Body) > apiv1.MaxEventBytes:
				t.Fatalf("row %d has an event of %d bytes", i, len(r.Body))
			case i >= limits.MaxBatchRecords:
				t.Fatalf("row %d passed the batch limit of %d", i, limits.MaxBatchRecords)
			}
			var again apiv1.Event
			if err := proto.Unmarshal(r.Body, &again); err != nil || again.Kind != r.Kind {
				t.Fatalf("stored body does not decode to the same event: %v", err)
			}
			found := false
			for _, rec := range batch.Records {
				found = found || bytes.Equal(rec.Event, r.Body)
			}
			if !found {
				t.Fatal("stored body is not a received event's bytes")
			}
		}
		for _, r := range d.rejected {
			if !slices.Contains(rejectReasons, r.reason) {
				t.Fatalf("rejection with unknown reason %q", r.reason)
			}
		}
	})
}

func mustMarshal(e *apiv1.Event) []byte {
	b, err := proto.Marshal(e)
	if err != nil {
		panic(err)
	}
	return b
}
