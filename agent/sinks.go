package agent

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

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

// openSinks builds the agent's outputs: JSON lines when cfg.Output is set,
// and the spool and sender when a collector is configured. close stops the
// delivery and must be called before the agent exits.
func openSinks(ctx context.Context, cfg Config, reg prometheus.Registerer, m *metrics, log *slog.Logger) (s sink, close func(), err error) {
	f := &fanout{events: m.events}
	close = func() {}
	if cfg.Output != nil {
		f.outputs = append(f.outputs, newJSONLines(cfg.Output, m.dropped, m.repaired.WithLabelValues(repairedOutput), log))
	}
	if cfg.Delivery.Collector.Address != "" {
		d, err := startDelivery(ctx, cfg.Delivery, cfg.NodeName, reg, m.dropped, log)
		if err != nil {
			return nil, nil, err
		}
		f.outputs = append(f.outputs, d)
		close = d.close
	}
	if len(f.outputs) == 0 {
		return nil, nil, errors.New("no output: write JSON lines to stdout, send to a collector, or both")
	}
	return f, close, nil
}
