package collector

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// predictedKillsTimeout bounds the store query behind one scrape.
const predictedKillsTimeout = 5 * time.Second

// killCounter counts, by namespace, the running containers whose next stop
// is predicted to need SIGKILL; query.Service is one.
type killCounter interface {
	PredictedKills(ctx context.Context, now time.Time) (map[string]int, error)
}

// predictedKills exports graceline_containers_predicted_kill at each
// scrape: the count is a query over the latest predictions, so it is never
// stale and costs nothing between scrapes.
type predictedKills struct {
	counter killCounter
	desc    *prometheus.Desc
	log     *slog.Logger
}

const predictedKillsHelp = "Running containers, by namespace, whose next stop is predicted to need SIGKILL, as `kubectl graceline check` predicts it: the init has no handler for, ignores or blocks the stop signal, a shell leaves its worker without it, or the handler outlasted the grace period in the workload's last termination."

func newPredictedKills(counter killCounter, log *slog.Logger) *predictedKills {
	return &predictedKills{counter: counter, log: log, desc: prometheus.NewDesc("graceline_containers_predicted_kill", predictedKillsHelp, []string{"namespace"}, nil)}
}

// Describe is part of prometheus.Collector.
func (p *predictedKills) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

// Collect is part of prometheus.Collector. A failed query leaves the
// series out of this scrape, which an alert sees as absent, not as zero.
func (p *predictedKills) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), predictedKillsTimeout)
	defer cancel()
	counts, err := p.counter.PredictedKills(ctx, time.Now())
	if err != nil {
		p.log.Warn("count predicted kills", "err", err)
		return
	}
	for ns, n := range counts {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, float64(n), ns)
	}
}
