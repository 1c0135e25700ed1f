// Package ingest is the collector's side of the agents' event streams: it
// decodes and checks each batch, stores it idempotently, hands new events to
// live watchers, and acknowledges the batch once it is durable.
package ingest

import (
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// maxNodeName is the longest node name Kubernetes allows (a DNS subdomain).
const maxNodeName = 253

// Reasons a record is rejected, as metric labels.
const (
	rejectKey   = "bad_key"
	rejectEvent = "bad_event"
)

// rejection is a record that cannot be stored, and why.
type rejection struct {
	reason string
	err    error
}

func (r rejection) Error() string { return r.err.Error() }

// Decode checks one record and turns it into a store row and the event it
// carries. The row keeps the encoded event exactly as received. An event
// without a time is stamped with now, so that it still sorts and expires.
func Decode(rec *apiv1.Record, now time.Time) (store.Row, *apiv1.Event, error) {
	k := rec.GetKey()
	switch {
	case k == nil:
		return store.Row{}, nil, rejection{rejectKey, errors.New("record has no delivery key")}
	case k.Node == "" || len(k.Node) > maxNodeName:
		return store.Row{}, nil, rejection{rejectKey, fmt.Errorf("delivery key has node name of %d bytes", len(k.Node))}
	case k.Epoch == 0 || k.Epoch > math.MaxInt64:
		return store.Row{}, nil, rejection{rejectKey, fmt.Errorf("delivery key epoch %d out of range", k.Epoch)}
	case k.Seq == 0 || k.Seq > math.MaxInt64:
		return store.Row{}, nil, rejection{rejectKey, fmt.Errorf("delivery key sequence %d out of range", k.Seq)}
	}
	e := new(apiv1.Event)
	if err := proto.Unmarshal(rec.Event, e); err != nil {
		return store.Row{}, nil, rejection{rejectEvent, fmt.Errorf("decode event %s/%d/%d: %w", k.Node, k.Epoch, k.Seq, err)}
	}
	if e.Kind == "" {
		return store.Row{}, nil, rejection{rejectEvent, fmt.Errorf("event %s/%d/%d has no kind", k.Node, k.Epoch, k.Seq)}
	}
	at := now
	if ts := e.GetTime(); ts != nil && ts.CheckValid() == nil {
		at = ts.AsTime()
	}
	return store.Row{
		Node:      k.Node,
		Epoch:     int64(k.Epoch),
		Seq:       int64(k.Seq),
		TimeNs:    at.UnixNano(),
		Kind:      e.Kind,
		Namespace: e.GetPod().GetNamespace(),
		Name:      e.GetPod().GetName(),
		UID:       e.GetPod().GetUid(),
		Verdict:   e.Verdict,
		Body:      rec.Event,
	}, e, nil
}

// decoded is a batch after decoding: the rows to store, their events in the
// same order, and the records refused.
type decoded struct {
	rows     []store.Row
	events   []*apiv1.Event
	rejected []rejection
}

func decodeBatch(b *apiv1.Batch, now time.Time) decoded {
	d := decoded{rows: make([]store.Row, 0, len(b.Records)), events: make([]*apiv1.Event, 0, len(b.Records))}
	for _, rec := range b.Records {
		row, e, err := Decode(rec, now)
		if err != nil {
			var r rejection
			if !errors.As(err, &r) {
				r = rejection{rejectEvent, err}
			}
			d.rejected = append(d.rejected, r)
			continue
		}
		d.rows = append(d.rows, row)
		d.events = append(d.events, e)
	}
	return d
}
