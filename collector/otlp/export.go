// Package otlp exports the collector's terminations as OpenTelemetry
// traces over OTLP: one trace per pod termination and one per container
// restart, with IDs derived from what they are about, so that a trace sent
// twice is one trace. The export reads the store behind a durable cursor,
// on its own goroutine: a slow or absent backend never slows ingest, and a
// restart or an outage loses no trace.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/outcome"
	"github.com/graceline/graceline/collector/query"
	"github.com/graceline/graceline/collector/store"
)

// CursorName is the export's cursor in the store.
const CursorName = "otlp"

// Timing of the loop.
const (
	DefaultPollInterval = time.Second
	// batch is how many trace events one read of the store takes.
	batch = 100
	// Retry backoff: doubling from minBackoff up to maxBackoff, for as long
	// as it takes. Giving up would lose the trace; the oldest-unexported
	// gauge shows that the export is stuck.
	minBackoff = time.Second
	maxBackoff = time.Minute
)

// Store is what the export reads and where it keeps its cursor.
type Store interface {
	TraceEventsAfter(ctx context.Context, after int64, limit int) ([]store.TraceEvent, error)
	EarlierStuckReport(ctx context.Context, uid string, before int64) (bool, error)
	ExportCursor(ctx context.Context, name string) (int64, error)
	SetExportCursor(ctx context.Context, name string, id int64) error
	PodByUID(ctx context.Context, uid string) (store.Pod, error)
	PodEvents(ctx context.Context, uid string) ([][]byte, error)
}

// Exporter sends the stored terminations to an OTLP backend.
type Exporter struct {
	cfg Config
	st  Store
	exp sdktrace.SpanExporter
	res *resource.Resource
	m   *metrics
	log *slog.Logger
}

// New returns an Exporter that reads st and sends through exp (NewClient
// makes one), with its metrics registered with reg.
func New(cfg Config, st Store, exp sdktrace.SpanExporter, reg prometheus.Registerer, log *slog.Logger) *Exporter {
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("graceline"))
	return &Exporter{cfg: cfg, st: st, exp: exp, res: res, m: newMetrics(reg, time.Now), log: log}
}

// Run exports until ctx ends, then shuts the client down.
func (x *Exporter) Run(ctx context.Context) error {
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		x.exp.Shutdown(sctx)
	}()
	var cursor int64
	if err := x.retry(ctx, "read the export cursor", func() (err error) {
		cursor, err = x.st.ExportCursor(ctx, CursorName)
		return err
	}); err != nil {
		return nil // ctx ended
	}
	x.log.Info("OTLP export running", "endpoint", x.cfg.Endpoint, "cursor", cursor)
	tick := time.NewTicker(x.cfg.PollInterval)
	defer tick.Stop()
	for {
		var events []store.TraceEvent
		if err := x.retry(ctx, "read terminations to export", func() (err error) {
			events, err = x.st.TraceEventsAfter(ctx, cursor, batch)
			return err
		}); err != nil {
			return nil
		}
		if len(events) == 0 {
			x.m.oldestNs.Store(0)
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			continue
		}
		for _, te := range events {
			x.m.oldestNs.Store(te.TimeNs)
			if err := x.handle(ctx, te); err != nil {
				return nil
			}
			cursor = te.ID
		}
		// The cursor moves once per read: after a crash, at most one
		// read's traces are sent again, as the same traces.
		if err := x.retry(ctx, "save the export cursor", func() error {
			return x.st.SetExportCursor(ctx, CursorName, cursor)
		}); err != nil {
			return nil
		}
	}
}

// handle exports the trace te makes, if it makes one, retrying until the
// backend takes it. It fails only when ctx ends.
func (x *Exporter) handle(ctx context.Context, te store.TraceEvent) error {
	var spans []sdktrace.ReadOnlySpan
	var kind string
	if err := x.retry(ctx, "read a termination to export", func() (err error) {
		spans, kind, err = x.build(ctx, te)
		return err
	}); err != nil {
		return err
	}
	if len(spans) == 0 {
		return nil
	}
	err := x.retry(ctx, "export a trace", func() error {
		if err := x.exp.ExportSpans(ctx, spans); err != nil {
			x.m.failed.Inc()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	x.m.exported.WithLabelValues(kind).Inc()
	x.log.Debug("exported a trace", "kind", kind, "uid", te.UID, "trace_id", spans[0].SpanContext().TraceID().String())
	return nil
}

// build lays out the trace te makes, with its kind; none for an event that
// makes no trace.
func (x *Exporter) build(ctx context.Context, te store.TraceEvent) ([]sdktrace.ReadOnlySpan, string, error) {
	var e apiv1.Event
	if err := proto.Unmarshal(te.Body, &e); err != nil {
		x.log.Warn("stored event does not decode; no trace for it", "uid", te.UID, "kind", te.Kind, "err", err)
		return nil, "", nil
	}
	switch {
	case e.Kind == apiv1.KindContainerSummary:
		events, err := x.podEvents(ctx, te.UID)
		if err != nil {
			return nil, "", err
		}
		return ContainerTrace(&e, events, x.res), traceContainer, nil
	case outcome.Final(x.cfg.FromCluster, &e):
		events, err := x.podEvents(ctx, te.UID)
		if err != nil {
			return nil, "", err
		}
		return PodTrace(&e, events, nil, x.res), traceFinal, nil
	case e.Kind == apiv1.KindStuck:
		return x.inProgress(ctx, te, &e)
	}
	return nil, "", nil
}

// inProgress lays out the trace of a pod stuck now, at its first stuck
// report: a hang shows in the backend when it is found, not once it ends.
// A pod that ended since (an export catching up) gets its final trace
// instead, from its final summary.
func (x *Exporter) inProgress(ctx context.Context, te store.TraceEvent, stuck *apiv1.Event) ([]sdktrace.ReadOnlySpan, string, error) {
	earlier, err := x.st.EarlierStuckReport(ctx, te.UID, te.ID)
	if err != nil || earlier {
		return nil, "", err
	}
	pod, err := x.st.PodByUID(ctx, te.UID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil // purged
	}
	if err != nil {
		return nil, "", err
	}
	if pod.EndNs >= te.TimeNs {
		return nil, "", nil
	}
	events, err := x.podEvents(ctx, te.UID)
	if err != nil {
		return nil, "", err
	}
	sum := query.Summarize(events)
	if sum == nil {
		return nil, "", nil
	}
	return PodTrace(sum, events, stuck, x.res), traceInProgress, nil
}

func (x *Exporter) podEvents(ctx context.Context, uid string) ([]*apiv1.Event, error) {
	bodies, err := x.st.PodEvents(ctx, uid)
	if err != nil {
		return nil, err
	}
	out := make([]*apiv1.Event, 0, len(bodies))
	for _, b := range bodies {
		var e apiv1.Event
		if proto.Unmarshal(b, &e) == nil {
			out = append(out, &e)
		}
	}
	return out, nil
}

// retry runs f until it succeeds, waiting between failures with a doubling
// backoff; it returns ctx's error once ctx ends.
func (x *Exporter) retry(ctx context.Context, what string, f func() error) error {
	wait := minBackoff
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		x.log.Warn(fmt.Sprintf("%s failed; retrying", what), "attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxBackoff)
	}
}
