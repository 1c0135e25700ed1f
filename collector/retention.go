package collector

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Purger deletes events older than a time.
type Purger interface {
	Purge(ctx context.Context, beforeNs int64) (int64, error)
}

// purgeLoop deletes expired events at start and then every interval, until
// ctx ends.
func purgeLoop(ctx context.Context, p Purger, retention, interval time.Duration, purged prometheus.Counter, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := p.Purge(ctx, time.Now().Add(-retention).UnixNano())
		purged.Add(float64(n))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("purge of expired events failed; retrying at the next interval", "err", err)
		case n > 0:
			log.Info("purged expired events", "events", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
