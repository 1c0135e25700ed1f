package agent

import (
	"bufio"
	"io"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// jsonLines writes each event as one JSON line. A write that fails is
// counted as a drop and logged once, never retried forever.
type jsonLines struct {
	mu      sync.Mutex
	out     io.Writer
	w       *bufio.Writer
	dropped *prometheus.CounterVec
	log     *slog.Logger
	failed  bool
}

func newJSONLines(w io.Writer, dropped *prometheus.CounterVec, log *slog.Logger) *jsonLines {
	return &jsonLines{out: w, w: bufio.NewWriter(w), dropped: dropped, log: log}
}

// Emit writes e and flushes, so a reader of the stream sees each event as
// soon as it happens.
func (o *jsonLines) Emit(e *apiv1.Event) {
	b, err := apiv1.MarshalJSONLine(e)
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
