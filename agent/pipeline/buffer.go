package pipeline

import (
	"sync"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// DefaultBufferLen is a sink buffer's bound when none is given.
const DefaultBufferLen = 8192

// Buffer runs a sink behind its own bounded buffer and goroutine, so that a
// slow stdout or a slow disk fills the buffer and drops, counted, rather
// than stalling the queue that feeds every other consumer.
type Buffer struct {
	events  chan *apiv1.Event
	write   func(*apiv1.Event)
	dropped Counter
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// NewBuffer starts a goroutine that hands the events given to Emit to
// write, one at a time and in order. It holds up to n events
// (DefaultBufferLen for 0); past that, events are counted in dropped.
func NewBuffer(n int, write func(*apiv1.Event), dropped Counter) *Buffer {
	if n <= 0 {
		n = DefaultBufferLen
	}
	b := &Buffer{events: make(chan *apiv1.Event, n), write: write, dropped: dropped, stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// Emit queues e for the sink without waiting.
func (b *Buffer) Emit(e *apiv1.Event) {
	if !b.TryEmit(e) {
		b.dropped.Inc()
	}
}

// TryEmit queues e for the sink without waiting, and reports false, with
// nothing counted, when the buffer is full.
func (b *Buffer) TryEmit(e *apiv1.Event) bool {
	select {
	case b.events <- e:
		return true
	default:
		return false
	}
}

func (b *Buffer) run() {
	defer close(b.done)
	for {
		select {
		case e := <-b.events:
			b.write(e)
		case <-b.stop:
			for {
				select {
				case e := <-b.events:
					b.write(e)
				default:
					return
				}
			}
		}
	}
}

// Close writes what is buffered and stops, waiting at most wait: a sink
// that is stuck for good must not keep the agent from exiting. What is not
// written by then is counted as dropped. Emit must not be called after.
func (b *Buffer) Close(wait time.Duration) {
	b.once.Do(func() { close(b.stop) })
	select {
	case <-b.done:
	case <-time.After(wait):
		b.dropped.Add(float64(len(b.events)))
	}
}
