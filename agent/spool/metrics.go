package spool

import "github.com/prometheus/client_golang/prometheus"

// metrics counts what the spool does; one set per spool.
type metrics struct {
	bytes        prometheus.Gauge
	limit        prometheus.Gauge
	appended     prometheus.Counter
	acked        prometheus.Counter
	dropped      *prometheus.CounterVec // by reason
	damaged      *prometheus.CounterVec // by reason
	damagedBytes prometheus.Counter
	cursorErrors prometheus.Counter
	repaired     prometheus.Counter
}

// Drop reasons, as labels of graceline_spool_dropped_total.
const (
	dropFull     = "spool_full"
	dropTooLarge = "too_large"
	dropWrite    = "write_error"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graceline_spool_bytes", Help: "Bytes the spool holds on disk.",
		}),
		// The bound beside the size lets an alert say "the spool is filling"
		// as a ratio, whatever --spool-max-bytes each node was given.
		limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graceline_spool_limit_bytes", Help: "The spool's bound on disk (--spool-max-bytes); past it the oldest undelivered events are dropped.",
		}),
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_spool_appended_total", Help: "Records written to the spool.",
		}),
		acked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_spool_acked_total", Help: "Records the collector acknowledged.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_spool_dropped_total", Help: "Events lost by the spool before the collector acknowledged them, by reason.",
		}, []string{"reason"}),
		damaged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_spool_damaged_records_total", Help: "Damaged places found in the spool and skipped: truncated, corrupt or undecodable records, or a bad segment header.",
		}, []string{"reason"}),
		damagedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_spool_damaged_bytes_total", Help: "Bytes of the spool skipped because they were damaged.",
		}),
		cursorErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_spool_cursor_errors_total", Help: "Acknowledgement cursors that could not be saved (a full disk); a restart then resends what they covered.",
		}),
		repaired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_spool_strings_repaired_total", Help: "Strings of events that were not valid UTF-8 when they reached the spool, and were repaired rather than the event lost.",
		}),
	}
	reg.MustRegister(m.bytes, m.limit, m.appended, m.acked, m.dropped, m.damaged, m.damagedBytes, m.cursorErrors, m.repaired)
	for _, r := range []string{dropFull, dropTooLarge, dropWrite} {
		m.dropped.WithLabelValues(r)
	}
	for _, r := range []string{"truncated", "corrupt", "undecodable", "header"} {
		m.damaged.WithLabelValues(r)
	}
	return m
}
