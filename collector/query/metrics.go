package query

import "github.com/prometheus/client_golang/prometheus"

// metrics counts the stored events that could not be served as stored.
type metrics struct {
	repaired   prometheus.Counter
	unreadable prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		repaired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_events_repaired_total",
			Help: "Events served with a time or duration clamped into what JSON can carry (years 0001 to 9999), each time one is served.",
		}),
		unreadable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_events_unreadable_total",
			Help: "Stored events left out of an answer because they could not be decoded, each time one is met.",
		}),
	}
	reg.MustRegister(m.repaired, m.unreadable)
	return m
}
