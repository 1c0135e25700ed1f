// Package pacer runs an agent's periodic checks only while they have work.
//
// On a node of a hundred quiet pods most of the agent's tickers would fire
// for nothing: a release poll with nothing pending, a policy with no signal
// row held, a correlator with no pod terminating. Each firing wakes a
// thread, and on a virtual machine a wake-up costs more than the check it
// runs. A Pacer's check says whether it has more to do; when it has not,
// the Pacer sleeps without a timer until the code that creates work wakes
// it.
package pacer

import (
	"context"
	"time"
)

// Pacer runs a check one period after it is woken, then every period while
// the check reports more to do.
type Pacer struct {
	period time.Duration
	wake   chan struct{}
}

// New returns a sleeping Pacer that checks every period once woken.
func New(period time.Duration) *Pacer {
	return &Pacer{period: period, wake: make(chan struct{}, 1)}
}

// Wake has the check run within a period. It never blocks, so it may be
// called under the lock that guards the work, and on an event path.
func (p *Pacer) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run calls check as paced until ctx ends. A Wake that comes while check
// runs, or after it found nothing more to do, is not lost: the wake is
// taken before each check, so a later one leads to another.
func (p *Pacer) Run(ctx context.Context, check func() (more bool)) {
	t := time.NewTimer(p.period)
	defer t.Stop()
	for more := true; ; {
		if !more {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
			}
			t.Reset(p.period)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case <-p.wake:
		default:
		}
		more = check()
		if more {
			t.Reset(p.period)
		}
	}
}
