// Package outcome turns the terminations the collector stores into
// Prometheus metrics: how many ended with which verdict and cause, how long
// they and their phases took, how far the endpoints lagged the stop signal,
// and how many pods are stuck now. Labels come from closed sets (verdicts,
// causes, phases) and from namespaces, which are capped.
package outcome

import (
	"log/slog"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// Publisher hands newly stored events on; ingest and the cluster side call
// it once per event, when the store first takes it.
type Publisher interface {
	Publish(events []*apiv1.Event)
}

// Config says which summaries count and how many namespaces get series.
type Config struct {
	// FromCluster: the collector runs the cluster side, whose joined
	// summary (stored once per pod, when the object is gone) is the one
	// counted. Without it, the agents' final summaries are.
	FromCluster bool
	// MaxNamespaces caps the namespace label; 0 means DefaultMaxNamespaces.
	MaxNamespaces int
}

// Recorder counts terminations as they are stored and reports stuck pods
// when scraped.
type Recorder struct {
	cfg Config
	ns  *namespaces
	m   *metrics
}

// New registers the outcome metrics with reg. st is read at each scrape for
// the stuck gauge.
func New(cfg Config, st StuckReader, reg prometheus.Registerer, log *slog.Logger) *Recorder {
	if cfg.MaxNamespaces == 0 {
		cfg.MaxNamespaces = DefaultMaxNamespaces
	}
	r := &Recorder{cfg: cfg, ns: newNamespaces(cfg.MaxNamespaces), m: newMetrics(reg)}
	reg.MustRegister(newStuckCollector(st, r.ns, r.m, log))
	return r
}

// Tap returns a Publisher that records each event and then hands it to
// next. Recording takes no I/O and no lock but the namespace cap's, so it
// never holds up the event path.
func (r *Recorder) Tap(next Publisher) Publisher { return tap{r, next} }

type tap struct {
	r    *Recorder
	next Publisher
}

func (t tap) Publish(events []*apiv1.Event) {
	for _, e := range events {
		t.r.Record(e)
	}
	if t.next != nil {
		t.next.Publish(events)
	}
}

// counts is whether e is one termination to count; see Final.
func (r *Recorder) counts(e *apiv1.Event) bool { return Final(r.cfg.FromCluster, e) }

// Final is the rule for what is one finished pod termination: a
// termination_summary that is final. With the cluster side (fromCluster),
// that is the collector's own joined summary (source api), which is stored
// once per pod under one key and is the only one that knows the endpoints;
// the agent's summary of the same pod is not counted again. Without the
// cluster side, it is an agent's summary whose verdict is final (not stuck,
// which an agent reports while it waits). The outcome metrics count by it,
// and the OTLP export sends a pod's final trace by it.
func Final(fromCluster bool, e *apiv1.Event) bool {
	if e.GetKind() != apiv1.KindTerminationSummary {
		return false
	}
	if fromCluster {
		return e.GetSource() == apiv1.SourceAPI
	}
	return e.GetSource() != apiv1.SourceAPI && apiv1.EndsTermination(e.GetKind(), e.GetVerdict())
}

// Record counts e if it is a termination (see counts); other events are
// ignored. The caller hands each stored event once.
func (r *Recorder) Record(e *apiv1.Event) {
	if !r.counts(e) {
		return
	}
	ns, ok := r.ns.label(e.GetPod().GetNamespace())
	if !ok {
		r.m.overflow.Inc()
	}
	r.m.terminations.WithLabelValues(ns, closed(e.GetVerdict(), apiv1.Verdicts(), labelUnknown), summary.PodCauseName(e)).Inc()
	if d, ok := summary.Span(e); ok {
		r.m.duration.WithLabelValues(ns).Observe(d.Seconds())
	}
	for _, p := range e.GetPhases() {
		if p.GetStart() == nil || p.GetEnd() == nil {
			continue
		}
		d := p.GetEnd().AsTime().Sub(p.GetStart().AsTime())
		if d < 0 {
			continue // a phase cannot end before it starts; the summary rule leaves such phases out
		}
		r.m.phase.WithLabelValues(closed(p.GetName(), nodePhases, labelOther)).Observe(d.Seconds())
	}
	if lag := e.GetEndpointLag(); lag != nil {
		r.m.endpointLag.Observe(lag.AsDuration().Seconds())
	}
	if e.GetTrafficRisk() {
		r.m.trafficRisk.WithLabelValues(ns).Inc()
	}
}

// Label values for what falls outside a closed set.
const (
	labelUnknown = "unknown"
	labelOther   = "other"
)

// nodePhases are the phases a summary carries.
var nodePhases = []string{apiv1.PhasePreStop, apiv1.PhaseStopSignal, apiv1.PhaseSIGKILL, apiv1.PhaseSandboxTeardown, apiv1.PhaseResourceRelease, apiv1.PhaseRemoval}

// blockingPhases are the phases a stuck report may name.
var blockingPhases = append(slices.Clone(nodePhases), apiv1.PhaseFinalizers, apiv1.PhaseNode)

// closed returns v when set holds it, else otherwise: a label never takes a
// value an agent made up.
func closed(v string, set []string, otherwise string) string {
	if slices.Contains(set, v) {
		return v
	}
	return otherwise
}
