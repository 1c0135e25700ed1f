package kube

import (
	"context"
	"hash/fnv"
	"log/slog"
	"math"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// Retry delays of a failing store write.
const (
	retryMin = 500 * time.Millisecond
	retryMax = 30 * time.Second
	// writeBatch bounds one insert.
	writeBatch = 500
	// flushTimeout bounds the last write at shutdown.
	flushTimeout = 5 * time.Second
)

// writer stores cluster events in order, retrying until the store takes
// them, and publishes those not stored before. Informer handlers never
// wait for it.
type writer struct {
	st    Store
	pub   Publisher
	m     *metrics
	log   *slog.Logger
	limit int

	mu     sync.Mutex
	queue  []queued
	notify chan struct{}
}

type queued struct {
	row store.Row
	ev  *apiv1.Event
}

func newWriter(st Store, pub Publisher, limit int, m *metrics, log *slog.Logger) *writer {
	return &writer{st: st, pub: pub, m: m, log: log, limit: limit, notify: make(chan struct{}, 1)}
}

// add queues e under key. Past the queue's limit, e is dropped and counted.
func (w *writer) add(e *apiv1.Event, key string) {
	w.m.events.WithLabelValues(e.Kind).Inc()
	body, err := proto.Marshal(e)
	if err != nil { // cannot happen for a valid message; never lose it silently
		w.m.dropped.WithLabelValues("encode").Inc()
		w.log.Error("encode cluster event", "kind", e.Kind, "err", err)
		return
	}
	row := store.Row{
		Cluster: true, Seq: keySeq(key), Node: e.Node, TimeNs: e.GetTime().AsTime().UnixNano(), Kind: e.Kind,
		Namespace: e.GetPod().GetNamespace(), Name: e.GetPod().GetName(), UID: e.GetPod().GetUid(),
		Verdict: e.Verdict, Body: body, Report: reportFacts(e),
	}
	w.mu.Lock()
	if len(w.queue) >= w.limit {
		w.mu.Unlock()
		w.m.dropped.WithLabelValues("queue_full").Inc()
		return
	}
	w.queue = append(w.queue, queued{row, e})
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// keySeq turns an event's key into its sequence number in the cluster
// stream: a 63-bit hash, never 0.
func keySeq(key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	seq := int64(h.Sum64() & math.MaxInt64)
	if seq == 0 {
		seq = 1
	}
	return seq
}

// run writes until ctx ends, then makes one last bounded attempt.
func (w *writer) run(ctx context.Context) {
	delay := retryMin
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			defer cancel()
			if n, err := w.flush(fctx); err != nil {
				w.m.dropped.WithLabelValues("shutdown").Add(float64(n))
				w.log.Error("cluster events not stored at shutdown", "events", n, "err", err)
			}
			return
		case <-w.notify:
		}
		for {
			_, err := w.flush(ctx)
			if err == nil {
				delay = retryMin
				break
			}
			if ctx.Err() != nil {
				break
			}
			w.m.storeErrors.Inc()
			w.log.Warn("store cluster events; retrying", "in", delay, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(delay):
			}
			delay = min(2*delay, retryMax)
		}
	}
}

// flush stores everything queued; on error it returns how many events are
// still waiting.
func (w *writer) flush(ctx context.Context) (int, error) {
	for {
		w.mu.Lock()
		n := min(len(w.queue), writeBatch)
		batch := w.queue[:n:n]
		w.mu.Unlock()
		if n == 0 {
			return 0, nil
		}
		rows := make([]store.Row, n)
		for i, q := range batch {
			rows[i] = q.row
		}
		res, err := w.st.Insert(ctx, rows)
		if err != nil {
			w.mu.Lock()
			left := len(w.queue)
			w.mu.Unlock()
			return left, err
		}
		w.mu.Lock()
		w.queue = w.queue[n:]
		w.mu.Unlock()
		var fresh []*apiv1.Event
		for i, isNew := range res.New {
			if isNew {
				fresh = append(fresh, batch[i].ev)
			}
		}
		if len(fresh) > 0 && w.pub != nil {
			w.pub.Publish(fresh)
		}
	}
}

// reportFacts picks what the per-workload report counts from a cluster
// event: the delete request's initiator and workload, and the final
// summary's traffic risk and the cause that speaks for the pod.
func reportFacts(e *apiv1.Event) store.ReportFacts {
	switch e.Kind {
	case apiv1.KindDeleteRequested:
		return store.ReportFacts{Initiator: e.Initiator, WorkloadKind: e.GetWorkload().GetKind(), WorkloadName: e.GetWorkload().GetName()}
	case apiv1.KindTerminationSummary:
		c := summary.PodCause(e)
		return store.ReportFacts{TrafficRisk: e.GetTrafficRisk(), Cause: c.GetCause(), Advice: c.GetAdvice()}
	}
	return store.ReportFacts{}
}
