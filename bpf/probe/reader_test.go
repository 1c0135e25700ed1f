package probe

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

// TestRunStops checks that a Run parked on Go's poller returns, without an
// error, however it is asked to stop.
func TestRunStops(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("!!! SKIPPED: creating a ring buffer needs root !!!")
	}
	for _, tc := range []struct {
		name string
		stop func(cancel context.CancelFunc, s *Shared)
	}{
		{"a cancelled context stops it", func(cancel context.CancelFunc, _ *Shared) { cancel() }},
		{"closing the shared part stops it", func(_ context.CancelFunc, s *Shared) { s.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 4096})
			if err != nil {
				t.Fatal(err)
			}
			r, err := ringbuf.NewReader(m)
			if err != nil {
				t.Fatal(err)
			}
			s := &Shared{maps: map[string]*ebpf.Map{"events": m}, reader: r}
			t.Cleanup(func() { s.Close() })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := s.Run(ctx)
				done <- err
			}()
			// Run parks on the poller once it has taken the descriptor.
			deadline := time.Now().Add(10 * time.Second)
			for {
				s.mu.Lock()
				parked := s.ready != nil
				s.mu.Unlock()
				if parked {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("Run never waited on the poller")
				}
				time.Sleep(time.Millisecond)
			}
			tc.stop(cancel, s)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
		})
	}
}
