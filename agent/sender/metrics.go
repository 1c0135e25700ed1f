package sender

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connected  prometheus.Gauge
	batches    prometheus.Counter
	acked      prometheus.Counter
	rejected   prometheus.Counter
	reconnects prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graceline_sender_connected", Help: "1 while a stream to the collector is open.",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_sender_batches_acked_total", Help: "Batches the collector acknowledged.",
		}),
		acked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_sender_events_acked_total", Help: "Events the collector acknowledged (stored now or before).",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_sender_events_rejected_total", Help: "Events the collector refused as undecodable; they are not resent.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_sender_reconnects_total", Help: "Streams to the collector that broke or could not be opened.",
		}),
	}
	reg.MustRegister(m.connected, m.batches, m.acked, m.rejected, m.reconnects)
	return m
}
