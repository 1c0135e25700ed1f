package pipeline

import (
	"context"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/internal/pacer"
)

// Losses keeps the count of events lost before the spool, by reason, until
// an events_dropped report carrying it is taken, so that the collector
// learns of the loss and the reports that reach it add up to every event
// lost.
type Losses struct {
	mu   sync.Mutex
	owed map[string]uint64
	// pace has Run report a second after a loss, and not at all while
	// nothing is lost.
	pace *pacer.Pacer
}

// lossReportEvery is how long a loss waits for others to be reported with.
const lossReportEvery = time.Second

// NewLosses returns an empty Losses.
func NewLosses() *Losses { return &Losses{owed: map[string]uint64{}, pace: pacer.New(lossReportEvery)} }

// Add records n more events lost for reason.
func (l *Losses) Add(reason string, n uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.owed[reason] += n
	l.pace.Wake()
}

// Run reports what is owed to deliver within a second of each loss, and
// once more when ctx ends, so that the collector learns of events it will
// never get.
func (l *Losses) Run(ctx context.Context, node string, deliver func(*apiv1.Event) bool) {
	report := func() bool {
		l.Report(node, time.Now(), deliver)
		return false
	}
	l.pace.Run(ctx, report)
	report()
}

// Report hands deliver one events_dropped event per reason owed, stamped
// with node and now. A report that deliver refuses (its sink is full too)
// stays owed for the next one. It is called outside the lock: deliver may
// be slow or take its own.
func (l *Losses) Report(node string, now time.Time, deliver func(*apiv1.Event) bool) {
	l.mu.Lock()
	owed := l.owed
	l.owed = map[string]uint64{}
	l.mu.Unlock()
	for reason, n := range owed {
		if n == 0 {
			continue
		}
		e := &apiv1.Event{Kind: apiv1.KindEventsDropped, Time: timestamppb.New(now), Node: node, Drop: &apiv1.Drop{Reason: reason, Count: n}}
		if !deliver(e) {
			l.Add(reason, n)
		}
	}
}

// Counter is what a Buffer counts its drops in: a Prometheus counter, or
// Reported for drops the collector must learn of.
type Counter interface {
	Inc()
	Add(float64)
}

// Reported counts drops in a metric and as owed to the collector.
type Reported struct {
	Metric Counter
	Losses *Losses
	Reason string
}

// Inc is part of Counter.
func (r Reported) Inc() { r.Add(1) }

// Add is part of Counter.
func (r Reported) Add(n float64) {
	r.Metric.Add(n)
	r.Losses.Add(r.Reason, uint64(n))
}
