package kube

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// recentError is how long a watch error counts against a synced informer;
// an informer that never listed counts as failing until it does.
const recentError = time.Minute

// healthPeriod is how often Health looks at the watches; errors that appear
// together (all three watches refused) are logged as one line.
const healthPeriod = 2 * time.Second

// Health tracks the watches' errors: the informers retry on their own, and
// Health says what fails, in one log line per change, in metrics, and on
// the collector's health endpoint.
type Health struct {
	mu        sync.Mutex
	m         *metrics
	log       *slog.Logger
	resources map[string]*resourceHealth
	reported  string
}

type resourceHealth struct {
	inf cache.SharedIndexInformer
	err error
	at  time.Time
}

func newHealth(m *metrics, log *slog.Logger) *Health {
	return &Health{m: m, log: log, resources: map[string]*resourceHealth{}}
}

// watch takes over the error reporting of one informer, which by default
// logs every retry.
func (h *Health) watch(name string, inf cache.SharedIndexInformer) error {
	h.mu.Lock()
	h.resources[name] = &resourceHealth{inf: inf}
	h.mu.Unlock()
	return inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		// A watch that ends or expires is routine: the informer resumes it.
		if errors.Is(err, io.EOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return
		}
		h.m.watchErrors.WithLabelValues(name).Inc()
		h.mu.Lock()
		defer h.mu.Unlock()
		r := h.resources[name]
		r.err, r.at = err, time.Now()
	})
}

// Problems returns, per failing resource, its latest error; nil when all
// watches work.
func (h *Health) Problems() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out map[string]string
	for name, r := range h.resources {
		if r.err != nil && (!r.inf.HasSynced() || time.Since(r.at) < recentError) {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = r.err.Error()
		}
	}
	return out
}

// run updates the metrics and logs each change of what fails.
func (h *Health) run(ctx context.Context) {
	t := time.NewTicker(healthPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		problems := h.Problems()
		h.mu.Lock()
		for name, r := range h.resources {
			ok := 0.0
			if _, failing := problems[name]; !failing && r.inf.HasSynced() {
				ok = 1
			}
			h.m.watchOK.WithLabelValues(name).Set(ok)
		}
		summary := summarize(problems)
		changed := summary != h.reported
		wasFailing := h.reported != ""
		h.reported = summary
		h.mu.Unlock()
		switch {
		case changed && summary != "":
			h.log.Error("cannot watch the Kubernetes API: delete requests, endpoints, finalizers and pod removals are not recorded until this is fixed; node data is still received and served",
				"failing", summary)
		case changed && wasFailing:
			h.log.Info("Kubernetes API watches work again")
		}
	}
}

// summarize renders problems in a stable order.
func summarize(problems map[string]string) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(problems)) {
		parts = append(parts, name+": "+problems[name])
	}
	return strings.Join(parts, "; ")
}
