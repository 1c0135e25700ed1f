package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what ingest does.
type Metrics struct {
	streams    prometheus.Gauge
	batches    prometheus.Counter
	stored     prometheus.Counter
	duplicates prometheus.Counter
	rejected   *prometheus.CounterVec
	commit     prometheus.Histogram
}

// NewMetrics creates ingest's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graceline_collector_ingest_streams", Help: "Agent streams connected now.",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_ingest_batches_total", Help: "Batches received and acknowledged.",
		}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_events_stored_total", Help: "Events stored for the first time.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_events_duplicate_total", Help: "Events received again (resent) and not stored twice.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_collector_events_rejected_total", Help: "Records refused because they could not be decoded, by reason.",
		}, []string{"reason"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "graceline_collector_ingest_commit_seconds", Help: "Time to store one batch durably.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	reg.MustRegister(m.streams, m.batches, m.stored, m.duplicates, m.rejected, m.commit)
	for _, r := range []string{rejectKey, rejectEvent} {
		m.rejected.WithLabelValues(r)
	}
	return m
}
