package outcome

import "github.com/prometheus/client_golang/prometheus"

// Bucket bounds, in seconds. A termination runs from milliseconds (no
// preStop, a process that exits at once) to the grace period and beyond:
// the buckets reach 10 minutes, past any grace period in common use.
var (
	durationBuckets = []float64{0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600}
	phaseBuckets    = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600}
	// The endpoint lag is the stop signal's time minus the time the last
	// Service stopped sending the pod traffic: negative when the signal
	// came first (traffic risk), so the buckets run both ways.
	lagBuckets = []float64{-30, -10, -5, -2, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 2, 5, 10, 30}
)

type metrics struct {
	terminations *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	phase        *prometheus.HistogramVec
	endpointLag  prometheus.Histogram
	trafficRisk  *prometheus.CounterVec
	overflow     prometheus.Counter
	stuckErrors  prometheus.Counter
	stuckCut     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		terminations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_terminations_total", Help: "Pod terminations stored, once each, by namespace (capped by --metrics-max-namespaces), verdict and the pod's cause.",
		}, []string{"namespace", "verdict", "cause"}),
		// By namespace, so that a team sees its own p95; the cap keeps it
		// to at most --metrics-max-namespaces times the buckets.
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "graceline_termination_duration_seconds", Help: "How long pod terminations took on the node, from their first phase's start to their last phase's end, by namespace (capped by --metrics-max-namespaces).",
			Buckets: durationBuckets,
		}, []string{"namespace"}),
		phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "graceline_termination_phase_duration_seconds", Help: "How long each phase of pod terminations took, by phase.",
			Buckets: phaseBuckets,
		}, []string{"phase"}),
		endpointLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "graceline_termination_endpoint_lag_seconds", Help: "The stop signal's time minus the time the last Service stopped sending the pod traffic; negative means traffic risk.",
			Buckets: lagBuckets,
		}),
		trafficRisk: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_termination_traffic_risk_total", Help: "Pod terminations whose stop signal came while a Service still sent the pod traffic, by namespace.",
		}, []string{"namespace"}),
		overflow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_metrics_namespace_overflow_total", Help: `Terminations counted under namespace="_other" because --metrics-max-namespaces namespaces had series already.`,
		}),
		stuckErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_metrics_stuck_read_errors_total", Help: "Scrapes whose graceline_pods_stuck could not be read from the store, and was left out.",
		}),
		stuckCut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_metrics_stuck_truncated_total", Help: "Scrapes whose graceline_pods_stuck counted only the newest stuck pods, because there were more than it reads.",
		}),
	}
	reg.MustRegister(m.terminations, m.duration, m.phase, m.endpointLag, m.trafficRisk, m.overflow, m.stuckErrors, m.stuckCut)
	return m
}
