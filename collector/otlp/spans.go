package otlp

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Why spans are built as tracetest.SpanStub snapshots and handed to the
// OTLP exporter directly, rather than started and ended through a
// TracerProvider with an IDGenerator of our own:
//
//   - A termination is exported after the fact, from stored events: every
//     span's start, end, parent and ID is known before the first one is
//     made. A tracer's spans are live objects meant to be timed as code runs.
//   - The IDs must be derived from the pod, not drawn: an IDGenerator would
//     have to smuggle the wanted IDs through the context, one call at a time.
//   - The export must say whether it worked, so that the cursor moves only
//     past traces the backend took. A span processor (batching or not)
//     reports errors to a global handler and drops the spans; calling
//     SpanExporter.ExportSpans returns the error to the caller.
//
// SpanStub.Snapshot is the SDK's supported way to make a ReadOnlySpan that
// no tracer started (the SDK's own exporter tests use it).

// scope names graceline as the instrumentation that made the spans.
var scope = instrumentation.Scope{Name: "github.com/graceline/graceline/collector/otlp"}

// span is one span being laid out, before it becomes a ReadOnlySpan.
type span struct {
	name       string
	id, parent trace.SpanID
	start, end time.Time
	attrs      []attribute.KeyValue
	events     []sdktrace.Event
	status     sdktrace.Status
}

// traceBuilder lays out the spans of one trace.
type traceBuilder struct {
	tid   trace.TraceID
	res   *resource.Resource
	spans []*span
}

func newTrace(tid trace.TraceID, res *resource.Resource) *traceBuilder {
	return &traceBuilder{tid: tid, res: res}
}

// add lays out a span named name (which tells it apart from its siblings
// of the same name, for its ID) under parent (nil for the root).
func (b *traceBuilder) add(parent *span, name, which string, start, end time.Time, attrs ...attribute.KeyValue) *span {
	s := &span{name: name, id: spanID(b.tid, name, which), start: start, end: end, attrs: attrs}
	if parent != nil {
		s.parent = parent.id
	}
	b.spans = append(b.spans, s)
	return s
}

// fail marks s as an error with a reason.
func (s *span) fail(reason string) {
	s.status = sdktrace.Status{Code: codes.Error, Description: reason}
}

// event adds a span event.
func (s *span) event(name string, at time.Time, attrs ...attribute.KeyValue) {
	s.events = append(s.events, sdktrace.Event{Name: name, Time: at, Attributes: attrs})
}

// snapshots returns the trace's spans as the SDK's exporters take them. A
// span that would end before it starts (clocks of two machines, or a phase
// whose end the events did not tell) ends at its start: OTLP backends
// refuse or misdraw negative durations.
func (b *traceBuilder) snapshots() []sdktrace.ReadOnlySpan {
	out := make([]sdktrace.ReadOnlySpan, 0, len(b.spans))
	for _, s := range b.spans {
		end := s.end
		if end.Before(s.start) {
			end = s.start
		}
		stub := tracetest.SpanStub{
			Name:                 s.name,
			SpanContext:          b.ctx(s.id),
			SpanKind:             trace.SpanKindInternal,
			StartTime:            s.start,
			EndTime:              end,
			Attributes:           s.attrs,
			Events:               s.events,
			Status:               s.status,
			Resource:             b.res,
			InstrumentationScope: scope,
		}
		if s.parent.IsValid() {
			stub.Parent = b.ctx(s.parent)
		}
		out = append(out, stub.Snapshot())
	}
	return out
}

func (b *traceBuilder) ctx(id trace.SpanID) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: b.tid, SpanID: id, TraceFlags: trace.FlagsSampled})
}

// addPhases adds a span under parent for each of a summary's phases that
// started, ending at end when the phase has not ended, and returns them by
// phase name. A SIGKILL phase is an error: the grace period ran out.
func (b *traceBuilder) addPhases(parent *span, phases []*apiv1.Phase, end time.Time) map[string]*span {
	out := map[string]*span{}
	for _, p := range phases {
		if p.GetStart() == nil {
			continue
		}
		pend := end
		if p.GetEnd() != nil {
			pend = p.GetEnd().AsTime()
		}
		s := b.add(parent, p.GetName(), "", p.GetStart().AsTime(), pend)
		if p.GetName() == apiv1.PhaseSIGKILL {
			s.fail("the grace period ran out: the runtime sent SIGKILL")
		}
		out[p.GetName()] = s
	}
	return out
}
