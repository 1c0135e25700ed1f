// Package readiness reads, while a container runs, what its stop would
// end in: its init's disposition for the stop signal, whether the init is
// a shell waiting on a worker, and the prediction api/summary makes from
// them. It emits a termination_readiness event when a container starts
// and whenever the prediction changes.
package readiness

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
)

// Defaults of Config.
const (
	DefaultInterval = time.Minute
	DefaultSoon     = 3 * time.Second
	// MinInterval keeps a mistyped interval from reading every container
	// many times a second.
	MinInterval = time.Second
)

// tick is the least time between two rounds of reads, so that a burst
// of container starts is read in one round.
const tick = time.Second

// Config says when a container is read: at its start, Soon after (a
// script has set its traps and started its worker by then), and every
// Interval afterwards.
type Config struct {
	Interval time.Duration
	Soon     time.Duration
}

// initReader reads a container's init process and its direct children.
type initReader interface {
	ReadInit(pid int32) (*apiv1.Process, []*apiv1.Process, error)
}

// stopSignals says which signal the runtime will stop a container with;
// 0 when it does not say, which means SIGTERM.
type stopSignals interface {
	StopSignal(ctx context.Context, containerID string) int32
}

// Reader is a cri.Subscriber that learns of running containers, and reads
// them on its own schedule, off the event path.
type Reader struct {
	node  string
	emit  func(*apiv1.Event)
	read  initReader
	stops stopSignals
	now   func() time.Time
	cfg   Config
	log   *slog.Logger

	mu   sync.Mutex
	ctrs map[string]*container
	// wake tells Run of a container to read now; Run otherwise sleeps
	// until the earliest read falls due, without a ticker that would wake
	// a quiet node every second.
	wake chan struct{}
}

// container is one running container and where its reads stand.
type container struct {
	id, name string
	pod      *apiv1.PodRef
	pid      int32
	started  time.Time
	next     time.Time
	reads    int
	// stop is the stop signal, asked of the runtime at the first read.
	stop      int32
	stopAsked bool
	last      *apiv1.Prediction
}

// New returns a Reader that emits through emit. stops may be nil: every
// container is then taken to stop on SIGTERM.
func New(node string, emit func(*apiv1.Event), read initReader, stops stopSignals, now func() time.Time, cfg Config, log *slog.Logger) *Reader {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Soon <= 0 {
		cfg.Soon = DefaultSoon
	}
	return &Reader{node: node, emit: emit, read: read, stops: stops, now: now, cfg: cfg, log: log, ctrs: map[string]*container{}, wake: make(chan struct{}, 1)}
}

// ContainerChanged is part of cri.Subscriber: a container with a pid is
// scheduled for its first read now; a stopped or removed one is
// forgotten. It only notes the change: the reads happen in Tick.
func (r *Reader) ContainerChanged(c cri.ContainerInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Stopped || c.Removed || c.Pid <= 0 || c.Meta.PodUID == "" {
		delete(r.ctrs, c.ID)
		return
	}
	if k, ok := r.ctrs[c.ID]; ok && k.pid == c.Pid {
		return
	}
	now := r.now()
	r.ctrs[c.ID] = &container{id: c.ID, name: c.Meta.ContainerName, pid: c.Pid, started: now, next: now,
		pod: &apiv1.PodRef{Namespace: c.Meta.PodNamespace, Name: c.Meta.PodName, Uid: c.Meta.PodUID}}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// SandboxChanged is part of cri.Subscriber; sandboxes are not read.
func (r *Reader) SandboxChanged(cri.SandboxInfo) {}

// Observe is handed every event; the runtime's stop signal to a container's
// init ends the container's reads. What its processes do from then on is
// the stop itself (a trap's command runs as the shell's child, and would
// read as a worker left without the signal), and the prediction its
// termination is held against is the last one made before it. A read
// under way is not emitted either (see keep).
func (r *Reader) Observe(e *apiv1.Event) {
	if e.Kind != apiv1.KindSignalGenerated {
		return
	}
	id := e.GetContainer().GetId()
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.ctrs[id]
	if !ok {
		return
	}
	stop := summary.StopSignalNumber(c.stop)
	// Another signal from outside (a reload's SIGHUP) leaves it running.
	if e.GetSignal().GetNumber() == stop && summary.StopSignal(summary.Container{ID: id, Pid: c.pid}, e) {
		delete(r.ctrs, id)
	}
}

// Run reads the containers as they fall due, until ctx ends. Between
// rounds it sleeps until the earliest read is due, or until a container
// starts, and at least tick.
func (r *Reader) Run(ctx context.Context) {
	t := time.NewTimer(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
			// Let the rest of a burst of starts arrive first.
			select {
			case <-ctx.Done():
				return
			case <-time.After(tick):
			}
		}
		next := r.Tick(ctx)
		if next.IsZero() {
			t.Stop()
			continue
		}
		t.Reset(max(next.Sub(r.now()), tick))
	}
}

// due is one read to make, copied out of the lock.
type due struct {
	c       container
	askStop bool
}

// Tick reads every container due by now, and emits the readiness of each
// whose prediction changed. It returns when the next read falls due, zero
// when no container is known. The reads and the runtime's answers happen
// outside the lock, so that a slow /proc or runtime never holds up the
// changes coming in.
func (r *Reader) Tick(ctx context.Context) (next time.Time) {
	now := r.now()
	var todo []due
	r.mu.Lock()
	for _, c := range r.ctrs {
		// A periodic read falling due soon is made now with the others, so
		// that containers started at different times share their rounds,
		// and a node of a hundred wakes a few times a minute, not a
		// hundred.
		if !now.Before(c.next) || c.reads >= 2 && c.next.Before(now.Add(r.cfg.Interval/10)) {
			todo = append(todo, due{c: *c, askStop: !c.stopAsked})
			c.reads++
			c.stopAsked = true
			c.next = r.nextRead(c, now)
		}
		if next.IsZero() || c.next.Before(next) {
			next = c.next
		}
	}
	r.mu.Unlock()
	for _, d := range todo {
		stop := d.c.stop
		if d.askStop && r.stops != nil {
			stop = r.stops.StopSignal(ctx, d.c.id)
		}
		init, children, err := r.read.ReadInit(d.c.pid)
		if err != nil {
			// Gone meanwhile: the runtime's stop comes next and forgets it.
			r.log.Debug("read container init", "container", d.c.id, "err", err)
			continue
		}
		p := summary.Predict(summary.Readiness{StopSignal: stop, Init: init, Children: children, At: now})
		if !r.keep(d.c.id, stop, p) {
			continue
		}
		n := summary.StopSignalNumber(stop)
		r.emit(&apiv1.Event{Kind: apiv1.KindTerminationReadiness, Time: timestamppb.New(now), Node: r.node, Pod: d.c.pod,
			Container: &apiv1.ContainerRef{Id: d.c.id, Name: d.c.name}, Signal: &apiv1.Signal{Number: n, Name: apiv1.SignalName(n)},
			Disposition: summary.Disposition(init, n), Processes: append([]*apiv1.Process{init}, children...), Prediction: p})
	}
	return next
}

// nextRead is when c is read next: Soon after its start for its second
// read, then every Interval.
func (r *Reader) nextRead(c *container, now time.Time) time.Time {
	if c.reads == 1 {
		return c.started.Add(r.cfg.Soon)
	}
	return now.Add(r.cfg.Interval)
}

// keep records p as c's latest prediction, and says whether it is a
// change worth an event: the first, or one that states something else.
func (r *Reader) keep(id string, stop int32, p *apiv1.Prediction) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.ctrs[id]
	if !ok {
		return false // stopped while it was read
	}
	c.stop = stop
	if c.last != nil && summary.SameState(c.last, p) {
		return false
	}
	c.last = p
	return true
}
