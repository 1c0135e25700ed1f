// Package pipeline carries the agent's events from its sources to its
// consumers, in one order. Sources (the CRI tracker, the kernel source, the
// release watcher) publish into one bounded queue; one goroutine hands each
// item to the consumers in turn: attribution, release, timeline, sinks.
//
// Publishing never waits. A full queue drops the item and counts it by
// source, so that a consumer that falls behind costs events, never a
// stalled relist or kernel reader.
package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/setting"
)

// Sources, as the queue's drop metric names them.
const (
	SourceRuntime = "runtime"
	SourceKernel  = "ebpf"
	SourceRelease = "release"
)

// DefaultQueueLen is the queue's bound when Config leaves it at 0. At the
// rates the benchmark measures it holds tens of milliseconds of events.
const DefaultQueueLen = 16384

// Item is one thing a source saw: a contract event, a change of a
// container or sandbox that consumers track, or the end of a listing of
// the runtime. Exactly one of Event, Container, Sandbox and Listing is set.
type Item struct {
	Source    string
	Event     *apiv1.Event
	Container *cri.ContainerInfo
	Sandbox   *cri.SandboxInfo
	Listing   *cri.Listing
}

// Consumer is one stage run off the queue. Consume runs on the queue's
// goroutine, one item at a time: it must not block on I/O that can stall.
type Consumer interface {
	Consume(Item)
}

// Metrics counts what the queue drops.
type Metrics struct {
	Dropped *prometheus.CounterVec // by source
}

// NewMetrics creates the queue's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "graceline_pipeline_dropped_total", Help: "Events and changes dropped because the agent's event queue was full, by source.",
	}, []string{"source"})}
	reg.MustRegister(m.Dropped)
	for _, s := range []string{SourceRuntime, SourceKernel, SourceRelease} {
		m.Dropped.WithLabelValues(s)
	}
	return m
}

// Queue is the agent's one ordered, bounded event queue.
type Queue struct {
	items   chan Item
	stop    chan struct{}
	dropped *prometheus.CounterVec
	losses  *Losses
}

// New returns a queue holding up to n items (DefaultQueueLen for 0). The
// events it drops are owed to the collector in losses, when not nil.
func New(n int, m *Metrics, losses *Losses) *Queue {
	if n <= 0 {
		n = DefaultQueueLen
	}
	return &Queue{items: make(chan Item, n), stop: make(chan struct{}), dropped: m.Dropped, losses: losses}
}

// Publish enqueues it without waiting; a full queue drops it, counts it,
// and reports false.
func (q *Queue) Publish(it Item) bool {
	select {
	case q.items <- it:
		return true
	default:
		q.dropped.WithLabelValues(it.Source).Inc()
		if q.losses != nil && it.Event != nil {
			q.losses.Add(apiv1.DropReasonAgentQueueFull, 1)
		}
		return false
	}
}

// Events returns a function that publishes events from source, for
// sources that take an emit function.
func (q *Queue) Events(source string) func(*apiv1.Event) {
	return func(e *apiv1.Event) { q.Publish(Item{Source: source, Event: e}) }
}

// Changes returns a cri.Subscriber, and cri.Lister, that publishes the
// tracker's changes and listings from source, so that consumers learn of
// them in order with its events.
func (q *Queue) Changes(source string) cri.Subscriber {
	return changes{q: q, source: source}
}

type changes struct {
	q      *Queue
	source string
}

func (c changes) ContainerChanged(info cri.ContainerInfo) {
	c.q.Publish(Item{Source: c.source, Container: &info})
}

func (c changes) SandboxChanged(info cri.SandboxInfo) {
	c.q.Publish(Item{Source: c.source, Sandbox: &info})
}

// Listed publishes l like a change. A full queue drops it, which only
// makes a consumer wait for the next listing.
func (c changes) Listed(l cri.Listing) {
	c.q.Publish(Item{Source: c.source, Listing: &l})
}

// Run hands every item to the consumers, in order, until Stop is called;
// it then hands them what is still queued and returns. It does not end with
// ctx, so that the sources' last events, published while they stop, are
// not lost: call Stop once they have stopped.
func (q *Queue) Run(consumers ...Consumer) {
	for {
		select {
		case it := <-q.items:
			consume(it, consumers)
		case <-q.stop:
			for {
				select {
				case it := <-q.items:
					consume(it, consumers)
				default:
					return
				}
			}
		}
	}
}

func consume(it Item, consumers []Consumer) {
	for _, c := range consumers {
		c.Consume(it)
	}
}

// Stop makes Run return once the queue is empty. Call it once.
func (q *Queue) Stop() { close(q.stop) }

// Config bounds the queue and the sinks' buffers; 0 means the default.
type Config struct {
	QueueLen      int
	SinkBufferLen int
}

// Validate refuses negative bounds.
func (c Config) Validate() error {
	switch {
	case c.QueueLen < 0:
		return setting.Invalid("QueueLen", c.QueueLen, "0 for the default, or more")
	case c.SinkBufferLen < 0:
		return setting.Invalid("SinkBufferLen", c.SinkBufferLen, "0 for the default, or more")
	}
	return nil
}
