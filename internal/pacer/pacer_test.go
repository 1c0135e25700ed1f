package pacer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checks runs a Pacer whose check counts its calls and reports more while
// busy says so, and returns the count and a stop function.
func checks(t *testing.T, p *Pacer, busy *atomic.Bool) (calls *atomic.Int64, stop func()) {
	t.Helper()
	calls = &atomic.Int64{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		p.Run(ctx, func() bool {
			calls.Add(1)
			return busy.Load()
		})
	})
	return calls, func() { cancel(); wg.Wait() }
}

// waitCalls polls until calls reaches n, failing after a deadline.
func waitCalls(t *testing.T, calls *atomic.Int64, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); calls.Load() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d checks, want %d", calls.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPacer(t *testing.T) {
	const period = 5 * time.Millisecond
	t.Run("The first check comes a period after the start, and a check that has nothing more to do ends the ticking.", func(t *testing.T) {
		var busy atomic.Bool
		calls, stop := checks(t, New(period), &busy)
		defer stop()
		waitCalls(t, calls, 1)
		// Forty periods without a wake: no further check.
		time.Sleep(40 * period)
		if n := calls.Load(); n != 1 {
			t.Errorf("%d checks while idle, want 1", n)
		}
	})
	t.Run("A wake runs the check again, and it keeps running while it reports more to do.", func(t *testing.T) {
		var busy atomic.Bool
		p := New(period)
		calls, stop := checks(t, p, &busy)
		defer stop()
		waitCalls(t, calls, 1)
		busy.Store(true)
		p.Wake()
		waitCalls(t, calls, 5)
		busy.Store(false)
		n := calls.Load()
		waitCalls(t, calls, n+1)
		time.Sleep(40 * period)
		if m := calls.Load(); m > n+1 {
			t.Errorf("%d checks after the work ran out, want at most one", m-n)
		}
	})
	t.Run("Many wakes while it sleeps lead to one check.", func(t *testing.T) {
		var busy atomic.Bool
		p := New(period)
		calls, stop := checks(t, p, &busy)
		defer stop()
		waitCalls(t, calls, 1)
		for range 100 {
			p.Wake()
		}
		waitCalls(t, calls, 2)
		time.Sleep(40 * period)
		if n := calls.Load(); n != 2 {
			t.Errorf("%d checks, want 2", n)
		}
	})
	t.Run("A wake during a check that found nothing more to do is not lost.", func(t *testing.T) {
		p := New(period)
		var calls atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			p.Run(ctx, func() bool {
				if calls.Add(1) == 1 {
					p.Wake() // work created while the check ran
				}
				return false
			})
		})
		defer func() { cancel(); wg.Wait() }()
		waitCalls(t, &calls, 2)
	})
	t.Run("Run returns when its context ends, asleep or not.", func(t *testing.T) {
		for _, busy := range []bool{false, true} {
			var b atomic.Bool
			b.Store(busy)
			calls, stop := checks(t, New(period), &b)
			waitCalls(t, calls, 1)
			stop()
		}
	})
}
