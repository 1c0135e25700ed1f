// Package probetest runs the probe groups in tests: it loads them as root,
// reads their events until the test ends, and waits for the ones a test
// expects.
package probetest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/graceline/graceline/bpf/probe"
)

// RequireRoot skips a test that loads BPF programs when not run as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("!!! SKIPPED: loading BPF programs needs root !!!")
	}
}

// HostMntNS reads the test's own mount namespace: the tests run on the
// host.
func HostMntNS(t testing.TB) uint32 {
	t.Helper()
	ns, err := probe.MountNamespace(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// Open opens the shared part of the probes, closed when the test ends.
func Open(t testing.TB, cfg probe.Config) *probe.Shared {
	t.Helper()
	s, err := probe.Open(cfg)
	if err != nil {
		t.Fatalf("open probes: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Run reads s's events into their routes until the test ends.
func Run(t testing.TB, s *probe.Shared, routes ...probe.Route) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := s.Run(ctx, routes...); err != nil {
			t.Errorf("read events: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// Collector gathers a group's events.
type Collector[E any] struct {
	mu     sync.Mutex
	events []E
}

// Add keeps e; it is a group's handler.
func (c *Collector[E]) Add(e E) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

// All returns the events gathered so far, in order.
func (c *Collector[E]) All() []E {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]E(nil), c.events...)
}

// Find returns the first event that satisfies ok.
func (c *Collector[E]) Find(ok func(E) bool) (E, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.events {
		if ok(e) {
			return e, true
		}
	}
	var zero E
	return zero, false
}

// Wait returns the first event that satisfies ok, failing the test when
// none came within 20 seconds.
func (c *Collector[E]) Wait(t testing.TB, what string, ok func(E) bool) E {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if e, found := c.Find(ok); found {
			return e
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no event: %s", what)
	var zero E
	return zero
}
