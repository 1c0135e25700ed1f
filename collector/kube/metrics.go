package kube

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	events      *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	storeErrors prometheus.Counter
	stuck       *prometheus.CounterVec
	watchOK     *prometheus.GaugeVec
	watchErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_collector_api_events_total", Help: "Cluster-side events made from the API watches, by kind (before deduplication).",
		}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_collector_api_events_dropped_total", Help: "Cluster-side events lost, by reason (queue_full: the store fell too far behind).",
		}, []string{"reason"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_api_store_errors_total", Help: "Failed attempts to store cluster-side events; they are retried.",
		}),
		stuck: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_collector_api_stuck_reports_total", Help: "Stuck reports made from the cluster side, by blocking phase.",
		}, []string{"phase"}),
		watchOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "graceline_collector_kube_watch_healthy", Help: "1 when the watch of a resource works, 0 when it fails.",
		}, []string{"resource"}),
		watchErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_collector_kube_watch_errors_total", Help: "Failed lists and watches of the Kubernetes API, by resource.",
		}, []string{"resource"}),
	}
	reg.MustRegister(m.events, m.dropped, m.storeErrors, m.stuck, m.watchOK, m.watchErrors)
	return m
}
