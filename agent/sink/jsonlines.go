package sink

import (
	"bufio"
	"io"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// jsonLines writes each event as one JSON line. A write that fails is
// counted as a drop and logged once, never retried forever.
type jsonLines struct {
	mu      sync.Mutex
	out     io.Writer
	w       *bufio.Writer
	dropped *prometheus.CounterVec
	// repaired counts strings repaired here (see encode).
	repaired prometheus.Counter
	log      *slog.Logger
	failed   bool
}

func newJSONLines(w io.Writer, dropped *prometheus.CounterVec, repaired prometheus.Counter, log *slog.Logger) *jsonLines {
	return &jsonLines{out: w, w: bufio.NewWriter(w), dropped: dropped, repaired: repaired, log: log}
}

// Emit writes e and flushes, so a reader of the stream sees each event as
// soon as it happens.
func (o *jsonLines) Emit(e *apiv1.Event) {
	b, err := o.encode(e)
	if err != nil {
		o.dropped.WithLabelValues("encode").Inc()
		o.log.Error("encode event", "kind", e.Kind, "err", err)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.w.Write(b)
	o.w.WriteByte('\n')
	if err := o.w.Flush(); err != nil {
		o.dropped.WithLabelValues("output").Inc()
		if !o.failed {
			o.log.Error("write event output; further failures are only counted", "err", err)
			o.failed = true
		}
		// A bufio.Writer keeps its first error; start afresh for the next event.
		o.w.Reset(o.out)
	}
}

// encode encodes e as a JSON line. An event that fails to encode because a
// string is not valid UTF-8 (one slipped past the repairs where workload
// strings enter the agent) is written repaired rather than lost; e itself
// is left alone, as other outputs share it.
func (o *jsonLines) encode(e *apiv1.Event) ([]byte, error) {
	b, err := apiv1.MarshalJSONLine(e)
	if err == nil {
		return b, nil
	}
	c := proto.Clone(e).(*apiv1.Event)
	n := apiv1.RepairUTF8(c)
	if n == 0 {
		return nil, err
	}
	o.repaired.Add(float64(n))
	return apiv1.MarshalJSONLine(c)
}
