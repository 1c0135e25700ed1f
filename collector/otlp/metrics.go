package otlp

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Kinds of trace, the exported counter's label.
const (
	traceFinal      = "final"
	traceInProgress = "in_progress"
	traceContainer  = "container"
)

type metrics struct {
	exported *prometheus.CounterVec
	failed   prometheus.Counter
	// oldestNs is the time of the oldest termination not exported yet (the
	// one the loop is at), or 0 when it has caught up.
	oldestNs atomic.Int64
}

func newMetrics(reg prometheus.Registerer, now func() time.Time) *metrics {
	m := &metrics{
		exported: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_collector_otlp_traces_exported_total",
			Help: "Traces the OTLP backend took, by kind: final (a pod's termination), in_progress (a stuck pod, sent at its first stuck report), container (a container's own termination). A trace sent again (after a restart) counts again.",
		}, []string{"trace"}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_otlp_export_failures_total",
			Help: "OTLP export attempts that failed; each is retried with backoff, and no trace is skipped.",
		}),
	}
	for _, k := range []string{traceFinal, traceInProgress, traceContainer} {
		m.exported.WithLabelValues(k)
	}
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "graceline_collector_otlp_oldest_unexported_seconds",
		Help: "Age of the oldest stored termination not yet exported over OTLP (its summary's or stuck report's time); 0 when the export has caught up.",
	}, func() float64 {
		ns := m.oldestNs.Load()
		if ns == 0 {
			return 0
		}
		return max(0, now().Sub(time.Unix(0, ns)).Seconds())
	})
	reg.MustRegister(m.exported, m.failed, oldest)
	return m
}
