package outcome

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/internal/ratelog"
)

// StuckReader lists the pods stuck now with their latest stuck report.
type StuckReader interface {
	StuckReports(ctx context.Context, limit int) ([]store.StuckReport, error)
}

// Bounds of one scrape's read.
const (
	// maxStuckRead bounds the pods one scrape reads; past it the gauge
	// counts the newest and the scrape is counted as truncated.
	maxStuckRead = 10000
	// stuckReadTimeout bounds the read, well inside a scrape's timeout.
	stuckReadTimeout = 5 * time.Second
)

// stuckCollector makes graceline_pods_stuck at scrape time from the store.
// The store already holds the answer (each pod's latest stuck report and
// end, kept across restarts, from agents and the cluster side alike), and
// reading it is one indexed query on a read-only connection beside the
// writer. A copy kept in memory would have to follow every end and every
// report of both sources and be rebuilt after a restart, to say the same
// thing, and it would be one more place where the rule of "stuck now" lives.
type stuckCollector struct {
	st   StuckReader
	ns   *namespaces
	m    *metrics
	desc *prometheus.Desc
	log  *ratelog.Logger
}

const stuckHelp = "Pods reported stuck and not ended since, by namespace (capped by --metrics-max-namespaces) and the blocking phase of their latest stuck report."

func newStuckCollector(st StuckReader, ns *namespaces, m *metrics, log *slog.Logger) *stuckCollector {
	return &stuckCollector{
		st: st, ns: ns, m: m,
		desc: prometheus.NewDesc("graceline_pods_stuck", stuckHelp, []string{"namespace", "blocking_phase"}, nil),
		log:  ratelog.New(log, slog.LevelWarn, time.Minute, nil),
	}
}

func (c *stuckCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect reads the stuck pods. A failed read leaves the gauge out of this
// scrape, so that the rest of /metrics is still served, and is counted.
func (c *stuckCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), stuckReadTimeout)
	defer cancel()
	reports, err := c.st.StuckReports(ctx, maxStuckRead+1)
	if err != nil {
		c.m.stuckErrors.Inc()
		c.log.Log("stuck_read", "read stuck pods for graceline_pods_stuck; left out of this scrape", "err", err)
		return
	}
	if len(reports) > maxStuckRead {
		c.m.stuckCut.Inc()
		reports = reports[:maxStuckRead]
	}
	type key struct{ ns, phase string }
	counts := map[key]int{}
	for _, r := range reports {
		ns, _ := c.ns.label(r.Namespace)
		counts[key{ns, blockingPhase(r.Report)}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k.ns, k.phase)
	}
}

// blockingPhase reads a stuck report's blocking phase; a report that cannot
// be read, or names a phase outside the closed set, says unknown.
func blockingPhase(report []byte) string {
	var e apiv1.Event
	if err := proto.Unmarshal(report, &e); err != nil {
		return labelUnknown
	}
	return closed(e.GetBlockingPhase(), blockingPhases, labelUnknown)
}
