// Package ingest is the collector's side of the agents' event streams: it
// decodes and checks each batch, stores it idempotently, hands new events to
// live watchers, and acknowledges the batch once it is durable.
package ingest

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// maxNodeName is the longest node name Kubernetes allows (a DNS subdomain).
const maxNodeName = 253

// Reasons a record is rejected, as metric labels. Each is also the first
// word of the refusal an agent is told.
const (
	rejectKey       = "bad_key"
	rejectEvent     = "bad_event"
	rejectTooLarge  = "too_large"
	rejectBatchFull = "batch_too_large"
	rejectTime      = "bad_time"
	rejectNode      = "node_mismatch"
	rejectSource    = "forged_source"
	// rejectForgedNode: a record for another node than the one the agent's
	// ServiceAccount token is bound to.
	rejectForgedNode = "forged_node"
)

var rejectReasons = []string{rejectKey, rejectEvent, rejectTooLarge, rejectBatchFull, rejectTime, rejectNode, rejectSource, rejectForgedNode}

// rejection is a record that cannot be stored, and why.
type rejection struct {
	reason string
	err    error
}

func (r rejection) Error() string { return r.err.Error() }

func reject(reason, format string, args ...any) rejection {
	return rejection{reason, fmt.Errorf(format, args...)}
}

// decoder checks records against the rules an agent's writes must follow.
type decoder struct {
	limits Limits
	now    time.Time
	// node is the node the stream writes for: an agent writes only its own
	// node's events. Empty until the stream's first record names it.
	node string
	// bound is the node the agent's ServiceAccount token is bound to, which
	// is then the only node it may write for; empty for a static token,
	// whose stream takes its first record's node.
	bound string
}

// decode checks one record and turns it into a store row and the event it
// carries. The row keeps the encoded event exactly as received. An event
// without a time is stamped with now, so that it still sorts and expires.
func (dc *decoder) decode(rec *apiv1.Record) (store.Row, *apiv1.Event, error) {
	k := rec.GetKey()
	switch {
	case k == nil:
		return store.Row{}, nil, reject(rejectKey, "record has no delivery key")
	case k.Node == "" || len(k.Node) > maxNodeName || !utf8.ValidString(k.Node):
		return store.Row{}, nil, reject(rejectKey, "delivery key has a node name of %d bytes, want 1 to %d bytes of UTF-8", len(k.Node), maxNodeName)
	case k.Epoch == 0 || k.Epoch > math.MaxInt64:
		return store.Row{}, nil, reject(rejectKey, "delivery key epoch %d out of range", k.Epoch)
	case k.Seq == 0 || k.Seq > math.MaxInt64:
		return store.Row{}, nil, reject(rejectKey, "delivery key sequence %d out of range", k.Seq)
	case dc.bound != "" && k.Node != dc.bound:
		return store.Row{}, nil, reject(rejectForgedNode, "record for node %q from an agent whose token is bound to node %q: an agent writes only for its own node", k.Node, dc.bound)
	case dc.node != "" && k.Node != dc.node:
		return store.Row{}, nil, reject(rejectNode, "record for node %q on the stream of node %q: an agent writes only for its own node", k.Node, dc.node)
	case len(rec.Event) > apiv1.MaxEventBytes:
		return store.Row{}, nil, reject(rejectTooLarge, "event %s/%d/%d of %d bytes exceeds the limit of %d bytes per event", k.Node, k.Epoch, k.Seq, len(rec.Event), apiv1.MaxEventBytes)
	}
	// Unmarshal also refuses strings that are not valid UTF-8.
	e := new(apiv1.Event)
	if err := proto.Unmarshal(rec.Event, e); err != nil {
		return store.Row{}, nil, reject(rejectEvent, "decode event %s/%d/%d: %w", k.Node, k.Epoch, k.Seq, err)
	}
	switch {
	case e.Kind == "":
		return store.Row{}, nil, reject(rejectEvent, "event %s/%d/%d has no kind", k.Node, k.Epoch, k.Seq)
	case e.Node != "" && e.Node != k.Node:
		return store.Row{}, nil, reject(rejectNode, "event %s/%d/%d names node %q: an agent writes only for its own node", k.Node, k.Epoch, k.Seq, e.Node)
	case e.Source == apiv1.SourceAPI:
		return store.Row{}, nil, reject(rejectSource, "event %s/%d/%d claims source %q, which only the collector's own API watches may write", k.Node, k.Epoch, k.Seq, apiv1.SourceAPI)
	}
	at := dc.now
	if ts := e.GetTime(); ts != nil {
		latest := dc.now.Add(dc.limits.MaxClockSkew)
		if ts.CheckValid() != nil || ts.AsTime().Before(oldestTime) || ts.AsTime().After(latest) {
			return store.Row{}, nil, reject(rejectTime, "event %s/%d/%d is dated %s, want %s to %s (the collector's clock plus %s)",
				k.Node, k.Epoch, k.Seq, formatTime(ts.GetSeconds()), oldestTime.Format(time.RFC3339), latest.Format(time.RFC3339), dc.limits.MaxClockSkew)
		}
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
		Readiness: store.ReadinessFacts{Container: e.GetContainer().GetName(), Outcome: e.GetPrediction().GetOutcome(), Cause: e.GetPrediction().GetCause()},
		Causes:    causesByContainer(e),
	}, e, nil
}

// formatTime writes a timestamp's seconds as a date where it can be one.
func formatTime(sec int64) string {
	if t := time.Unix(sec, 0).UTC(); t.Year() >= 1 && t.Year() <= 9999 {
		return t.Format(time.RFC3339)
	}
	return fmt.Sprintf("%d seconds since 1970", sec)
}

// decoded is a batch after decoding: the rows to store, their events in the
// same order, and the records refused.
type decoded struct {
	rows     []store.Row
	events   []*apiv1.Event
	rejected []rejection
}

// batch decodes a batch's records. The first acceptable record names the
// stream's node when it is not known yet. Records past the batch limit are
// refused unread.
func (dc *decoder) batch(b *apiv1.Batch) decoded {
	n := min(len(b.Records), dc.limits.MaxBatchRecords)
	d := decoded{rows: make([]store.Row, 0, n), events: make([]*apiv1.Event, 0, n)}
	for i, rec := range b.Records {
		if i >= dc.limits.MaxBatchRecords {
			d.rejected = append(d.rejected, reject(rejectBatchFull, "batch %d carries %d records, over the limit of %d records per batch", b.Id, len(b.Records), dc.limits.MaxBatchRecords))
			continue
		}
		row, e, err := dc.decode(rec)
		if err != nil {
			var r rejection
			if !errors.As(err, &r) {
				r = rejection{rejectEvent, err}
			}
			d.rejected = append(d.rejected, r)
			continue
		}
		if dc.node == "" {
			dc.node = row.Node
		}
		d.rows = append(d.rows, row)
		d.events = append(d.events, e)
	}
	return d
}

// causesByContainer is a summary's cause for each container by name; nil
// for other events.
func causesByContainer(e *apiv1.Event) map[string]string {
	if len(e.Causes) == 0 {
		return nil
	}
	out := make(map[string]string, len(e.Causes))
	for _, c := range e.Causes {
		if name := c.GetContainer().GetName(); name != "" {
			out[name] = c.GetCause()
		}
	}
	return out
}
