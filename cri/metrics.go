package cri

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the runtime-side sources do. One set is created per
// agent and registered with its registry; nothing here is global.
type Metrics struct {
	Relists          prometheus.Counter
	RelistErrors     prometheus.Counter
	Reconnects       *prometheus.CounterVec // by source
	SourceUp         *prometheus.GaugeVec   // by source
	Warnings         *prometheus.CounterVec // by label or annotation key
	ContainerdEvents *prometheus.CounterVec // by topic
}

// NewMetrics creates the runtime-side metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Relists: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_cri_relists_total", Help: "CRI relists performed.",
		}),
		RelistErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_cri_relist_errors_total", Help: "CRI relists that failed.",
		}),
		Reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_source_reconnects_total", Help: "Reconnections of an event source after it broke.",
		}, []string{"source"}),
		SourceUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "graceline_source_up", Help: "1 when the event source is live, 0 when it is down or unused.",
		}, []string{"source"}),
		Warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_metadata_warnings_total", Help: "Kubelet labels or annotations that were missing or malformed.",
		}, []string{"key"}),
		ContainerdEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_containerd_events_total", Help: "containerd events received, by topic.",
		}, []string{"topic"}),
	}
	reg.MustRegister(m.Relists, m.RelistErrors, m.Reconnects, m.SourceUp, m.Warnings, m.ContainerdEvents)
	for _, s := range []string{SourceRelist, SourceStream, SourceContainerd} {
		m.SourceUp.WithLabelValues(s)
		m.Reconnects.WithLabelValues(s)
	}
	return m
}
