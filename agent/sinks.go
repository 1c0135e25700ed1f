package agent

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graceline/graceline/agent/pipeline"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// sink receives every event the agent produces, one at a time and in order.
// Sources hand events to the sink; where they go is decided here.
type sink interface {
	Emit(e *apiv1.Event)
}

// fanout counts each event once and hands it to every output.
type fanout struct {
	events  *prometheus.CounterVec
	outputs []sink
}

func (f *fanout) Emit(e *apiv1.Event) {
	f.events.WithLabelValues(e.Kind).Inc()
	for _, o := range f.outputs {
		o.Emit(e)
	}
}

// sinkDrainWait bounds how long a sink may take, at exit, to write what its
// buffer holds.
const sinkDrainWait = 5 * time.Second

// Drop reasons of the sinks' buffers.
const (
	droppedOutputFull = "output_buffer_full"
	droppedSpoolFull  = "spool_buffer_full"
)

// openSinks builds the agent's outputs: JSON lines when cfg.Output is set,
// and the spool and sender when a collector is configured. Each runs behind
// its own buffer, so Emit never waits for stdout or the disk. close drains
// the buffers, stops the delivery, and must be called before the agent
// exits, once nothing emits any more.
func openSinks(ctx context.Context, cfg Config, reg prometheus.Registerer, m *metrics, log *slog.Logger) (s sink, close func(), err error) {
	f := &fanout{events: m.events}
	var closers []func()
	if cfg.Output != nil {
		o := newJSONLines(cfg.Output, m.dropped, m.repaired.WithLabelValues(repairedOutput), log)
		b := pipeline.NewBuffer(cfg.Pipeline.SinkBufferLen, o.Emit, m.dropped.WithLabelValues(droppedOutputFull))
		f.outputs = append(f.outputs, b)
		closers = append(closers, func() { b.Close(sinkDrainWait) })
	}
	if cfg.Delivery.Collector.Address != "" {
		d, err := startDelivery(ctx, cfg.Delivery, cfg.NodeName, reg, m.dropped, log)
		if err != nil {
			return nil, nil, err
		}
		b := pipeline.NewBuffer(cfg.Pipeline.SinkBufferLen, d.Emit, m.dropped.WithLabelValues(droppedSpoolFull))
		f.outputs = append(f.outputs, b)
		closers = append(closers, func() {
			b.Close(sinkDrainWait)
			d.close()
		})
	}
	if len(f.outputs) == 0 {
		return nil, nil, errors.New("no output: write JSON lines to stdout, send to a collector, or both")
	}
	return f, func() {
		for _, c := range closers {
			c()
		}
	}, nil
}
