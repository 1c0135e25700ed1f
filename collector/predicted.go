package collector

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// predictedKillsTimeout bounds the store query behind one scrape.
const predictedKillsTimeout = 5 * time.Second

// killCounter counts, by namespace, the running containers whose latest
// termination_readiness predicts a SIGKILL.
type killCounter interface {
	PredictedKills(ctx context.Context) (map[string]int, error)
}

// predictedKills exports graceline_containers_predicted_kill from the
// store at each scrape: the count is a query over the latest predictions,
// so it is never stale and costs nothing between scrapes.
type predictedKills struct {
	store killCounter
	desc  *prometheus.Desc
	log   *slog.Logger
}

const predictedKillsHelp = "Running containers, by namespace, whose latest termination_readiness predicts that their next stop will need SIGKILL (the init has no handler for, ignores or blocks the stop signal, or a shell leaves its worker without it)."

func newPredictedKills(store killCounter, log *slog.Logger) *predictedKills {
	return &predictedKills{store: store, log: log, desc: prometheus.NewDesc("graceline_containers_predicted_kill", predictedKillsHelp, []string{"namespace"}, nil)}
}

// Describe is part of prometheus.Collector.
func (p *predictedKills) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

// Collect is part of prometheus.Collector. A failed query leaves the
// series out of this scrape, which an alert sees as absent, not as zero.
func (p *predictedKills) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), predictedKillsTimeout)
	defer cancel()
	counts, err := p.store.PredictedKills(ctx)
	if err != nil {
		p.log.Warn("count predicted kills", "err", err)
		return
	}
	for ns, n := range counts {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, float64(n), ns)
	}
}
