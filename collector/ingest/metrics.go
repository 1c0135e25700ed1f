package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what ingest does.
type Metrics struct {
	streams        prometheus.Gauge
	streamsRefused prometheus.Counter
	batches        prometheus.Counter
	stored         prometheus.Counter
	duplicates     prometheus.Counter
	conflicts      prometheus.Counter
	identity       prometheus.Counter
	rejected       *prometheus.CounterVec
	storeFailures  prometheus.Counter
	commit         prometheus.Histogram
	// misses counts the terminations whose cause was not the one their
	// container's last termination_readiness predicted.
	misses *prometheus.CounterVec
}

// NewMetrics creates ingest's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graceline_collector_ingest_streams", Help: "Agent streams connected now.",
		}),
		streamsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_ingest_streams_refused_total", Help: "Agent streams refused because the collector served its maximum already.",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_events_key_conflict_total", Help: "Events received under a delivery key already stored with a different body; the first body is kept.",
		}),
		identity: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_pod_identity_conflicts_total", Help: "Agents' events that named a known pod UID with another namespace, name or node; the pod keeps the identity it had.",
		}),
		storeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_store_failures_total", Help: "Batches that could not be stored (the agent resends them); /readyz fails while the latest did.",
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
			Name: "graceline_collector_events_rejected_total", Help: "Records refused for good, by reason: undecodable, over a limit, dated outside the accepted window, or not the agent's to write.",
		}, []string{"reason"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "graceline_collector_ingest_commit_seconds", Help: "Time to store one batch durably.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_prediction_misses_total", Help: "Container terminations whose cause (actual) was not the one the container's last termination_readiness predicted (predicted): each is a prediction `kubectl graceline check` got wrong.",
		}, []string{"predicted", "actual"}),
	}
	reg.MustRegister(m.streams, m.streamsRefused, m.batches, m.stored, m.duplicates, m.conflicts, m.identity, m.rejected, m.storeFailures, m.commit, m.misses)
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	return m
}
