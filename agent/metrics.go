package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/graceline/graceline/agent/release"
	"github.com/graceline/graceline/agent/sink"
)

type metrics struct {
	events  *prometheus.CounterVec
	dropped *prometheus.CounterVec
	// cgroupRemovals counts cgroup_removed events by how they were found.
	cgroupRemovals *prometheus.CounterVec
	// repaired counts strings that were not valid UTF-8, by where they
	// were repaired.
	repaired *prometheus.CounterVec
}

// Where strings are repaired: kernel events as they are decoded, and the
// JSON output as its last line of defence.
const (
	repairedKernel = "ebpf"
	repairedOutput = "output"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_events_total", Help: "Events emitted, by kind.",
		}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_events_dropped_total", Help: "Events lost, by reason.",
		}, []string{"reason"}),
	}
	m.cgroupRemovals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "graceline_cgroup_removals_total", Help: "cgroup_removed events, by how the removal was found: a kernel event (the eBPF cgroup_rmdir probe) or a stat (polling, or a check).",
	}, []string{"found_by"})
	m.repaired = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "graceline_strings_repaired_total", Help: "Strings from workloads (process names, argv, CNI output, paths) that were not valid UTF-8, and were repaired (invalid bytes replaced by U+FFFD) rather than the event lost, by where.",
	}, []string{"where"})
	reg.MustRegister(m.events, m.dropped, m.cgroupRemovals, m.repaired)
	for _, w := range []string{repairedKernel, repairedOutput} {
		m.repaired.WithLabelValues(w)
	}
	for _, by := range []string{release.FoundByKernel, release.FoundByStat} {
		m.cgroupRemovals.WithLabelValues(by)
	}
	for _, r := range []string{"encode", "output", sink.DroppedOutputFull, sink.DroppedSpoolFull} {
		m.dropped.WithLabelValues(r)
	}
	return m
}
