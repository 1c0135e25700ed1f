// Package sink writes the agent's events where they go: JSON lines (to
// stdout) and the spool, from which the sender delivers them to the
// collector. Each output runs behind its own bounded buffer, so a slow
// stdout or a slow disk costs events, counted, and never stalls the agent's
// event queue.
package sink

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graceline/graceline/agent/pipeline"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// Config says where events go.
type Config struct {
	// Node names this node in the spool's records.
	Node string
	// Output receives JSON lines when set.
	Output io.Writer
	// Delivery sends events to a collector when its address is set.
	Delivery DeliveryConfig
	// BufferLen bounds each output's buffer; 0 means
	// pipeline.DefaultBufferLen.
	BufferLen int
}

// Metrics are the counters the sinks share with the rest of the agent:
// they are registered once, by the agent.
type Metrics struct {
	// Events counts events emitted, by kind.
	Events *prometheus.CounterVec
	// Dropped counts events lost, by reason.
	Dropped *prometheus.CounterVec
	// Repaired counts strings the JSON output repaired (see encode).
	Repaired prometheus.Counter
	// Losses holds the events lost before the spool (the agent's queue
	// and the spool's buffer), until they are reported to the collector
	// as events_dropped; nil reports nothing.
	Losses *pipeline.Losses
}

// drainWait bounds how long an output may take, at exit, to write what its
// buffer holds.
const drainWait = 5 * time.Second

// Drop reasons of the outputs' buffers.
const (
	DroppedOutputFull = "output_buffer_full"
	DroppedSpoolFull  = apiv1.DropReasonSpoolBufferFull
)

// output is one destination, as its buffer writes to it.
type output interface {
	Emit(e *apiv1.Event)
}

// Sinks counts each event once and hands it to every output's buffer.
type Sinks struct {
	events  *prometheus.CounterVec
	outputs []output
	closers []func()
}

// Emit hands e to every output without waiting for any.
func (s *Sinks) Emit(e *apiv1.Event) {
	s.events.WithLabelValues(e.Kind).Inc()
	for _, o := range s.outputs {
		o.Emit(e)
	}
}

// Close writes what the buffers hold (waiting a bounded time for each) and
// stops the delivery. Call it once nothing emits any more.
func (s *Sinks) Close() {
	for _, c := range s.closers {
		c()
	}
}

// Open builds the outputs: JSON lines when cfg.Output is set, and the spool
// and sender when a collector is configured.
func Open(ctx context.Context, cfg Config, reg prometheus.Registerer, m Metrics, log *slog.Logger) (*Sinks, error) {
	s := &Sinks{events: m.Events}
	if cfg.Output != nil {
		o := newJSONLines(cfg.Output, m.Dropped, m.Repaired, log)
		b := pipeline.NewBuffer(cfg.BufferLen, o.Emit, m.Dropped.WithLabelValues(DroppedOutputFull))
		s.outputs = append(s.outputs, b)
		s.closers = append(s.closers, func() { b.Close(drainWait) })
	}
	if cfg.Delivery.Collector.Address != "" {
		d, err := startDelivery(ctx, cfg.Delivery, cfg.Node, reg, m.Dropped, log)
		if err != nil {
			return nil, err
		}
		var dropped pipeline.Counter = m.Dropped.WithLabelValues(DroppedSpoolFull)
		if m.Losses != nil {
			dropped = pipeline.Reported{Metric: dropped, Losses: m.Losses, Reason: apiv1.DropReasonSpoolBufferFull}
		}
		b := pipeline.NewBuffer(cfg.BufferLen, d.Emit, dropped)
		stop := reportLosses(m.Losses, cfg.Node, b)
		s.outputs = append(s.outputs, b)
		s.closers = append(s.closers, func() {
			stop()
			b.Close(drainWait)
			d.close()
		})
	}
	if len(s.outputs) == 0 {
		return nil, errors.New("no output: write JSON lines to stdout, send to a collector, or both")
	}
	return s, nil
}

// reportLosses hands the losses to the spool's buffer as events_dropped
// events until stopped (see pipeline.Losses.Run). A report the full buffer
// refuses is kept for the next.
func reportLosses(losses *pipeline.Losses, node string, spool *pipeline.Buffer) (stop func()) {
	if losses == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		losses.Run(ctx, node, spool.TryEmit)
	}()
	return func() {
		cancel()
		<-stopped
	}
}
