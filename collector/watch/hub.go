// Package watch fans newly stored events out to live watchers. Publishing
// never waits for a watcher: one that falls too far behind is cut off, told
// so, and counted, and the agents' ingest goes on at full speed.
package watch

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// buffer is how many events a watcher may lag behind before it is cut off.
const buffer = 4096

// Filter selects events; empty fields match everything.
type Filter struct {
	Namespace, Node, Name string
}

// Match tells whether e passes the filter.
func (f Filter) Match(e *apiv1.Event) bool {
	return (f.Namespace == "" || e.GetPod().GetNamespace() == f.Namespace) &&
		(f.Node == "" || e.GetNode() == f.Node) &&
		(f.Name == "" || e.GetPod().GetName() == f.Name)
}

// Subscription is one watcher's feed. Events arrives in the order stored;
// it is closed when the watcher fell behind (Overflowed then reports true)
// or cancelled.
type Subscription struct {
	Events <-chan *apiv1.Event
	ch     chan *apiv1.Event
	filter Filter
	mu     sync.Mutex
	over   bool
}

// Overflowed tells whether the subscription ended because the watcher fell
// behind and events were lost to it.
func (s *Subscription) Overflowed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.over
}

// Hub holds the subscriptions.
type Hub struct {
	mu       sync.Mutex
	subs     map[*Subscription]struct{}
	watchers prometheus.Gauge
	cutOff   prometheus.Counter
}

// NewHub returns a hub whose metrics are registered with reg.
func NewHub(reg prometheus.Registerer) *Hub {
	h := &Hub{
		subs: map[*Subscription]struct{}{},
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graceline_collector_watchers", Help: "Live watch streams.",
		}),
		cutOff: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_collector_watchers_cut_off_total", Help: "Watch streams ended because the watcher fell too far behind.",
		}),
	}
	reg.MustRegister(h.watchers, h.cutOff)
	return h
}

// Subscribe starts a feed of events matching f. Call cancel when done.
func (h *Hub) Subscribe(f Filter) (sub *Subscription, cancel func()) {
	ch := make(chan *apiv1.Event, buffer)
	sub = &Subscription{Events: ch, ch: ch, filter: f}
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	h.watchers.Inc()
	return sub, func() { h.remove(sub, false) }
}

func (h *Hub) remove(sub *Subscription, overflow bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[sub]; !ok {
		return
	}
	delete(h.subs, sub)
	h.watchers.Dec()
	sub.mu.Lock()
	sub.over = overflow
	sub.mu.Unlock()
	close(sub.ch)
}

// Publish offers events to every matching subscription without waiting.
func (h *Hub) Publish(events []*apiv1.Event) {
	h.mu.Lock()
	var behind []*Subscription
	for sub := range h.subs {
		if !sub.offer(events) {
			behind = append(behind, sub)
		}
	}
	h.mu.Unlock()
	for _, sub := range behind {
		h.cutOff.Inc()
		h.remove(sub, true)
	}
}

// offer queues the matching events, and reports false when the watcher's
// buffer is full.
func (s *Subscription) offer(events []*apiv1.Event) bool {
	for _, e := range events {
		if !s.filter.Match(e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			return false
		}
	}
	return true
}
