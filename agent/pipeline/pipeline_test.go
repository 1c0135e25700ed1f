package pipeline

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
)

// recorder is a consumer that keeps what it is given.
type recorder struct{ got []string }

func (r *recorder) Consume(it Item) {
	switch {
	case it.Event != nil:
		r.got = append(r.got, it.Source+":"+it.Event.Kind)
	case it.Container != nil:
		r.got = append(r.got, it.Source+":container "+it.Container.ID)
	}
}

func TestQueue(t *testing.T) {
	cases := []struct {
		name        string
		size        int
		kernel      int // kernel events published before the runtime's
		wantKept    int
		wantDropped float64 // of the kernel's
	}{
		{name: "every item within the bound reaches the consumers in the order published", size: 8, kernel: 3, wantKept: 5},
		{name: "items past the bound are dropped and counted by source, without waiting", size: 4, kernel: 6, wantKept: 4, wantDropped: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics(prometheus.NewRegistry())
			q := New(tc.size, m, nil)
			emit := q.Events(SourceKernel)
			var want []string
			for i := range tc.kernel {
				emit(&apiv1.Event{Kind: fmt.Sprint("k", i)})
				if i < tc.size {
					want = append(want, fmt.Sprint(SourceKernel, ":k", i))
				}
			}
			q.Changes(SourceRuntime).ContainerChanged(cri.ContainerInfo{ID: "c"})
			q.Events(SourceRuntime)(&apiv1.Event{Kind: apiv1.KindContainerStarted})
			if tc.kernel+2 <= tc.size {
				want = append(want, SourceRuntime+":container c", SourceRuntime+":"+apiv1.KindContainerStarted)
			}
			// Stop before Run: Run hands over what is queued, then returns.
			q.Stop()
			a, b := &recorder{}, &recorder{}
			q.Run(a, b)
			if !slices.Equal(a.got, want) || !slices.Equal(b.got, want) {
				t.Errorf("consumers got %v and %v, want %v", a.got, b.got, want)
			}
			if len(a.got) != tc.wantKept {
				t.Errorf("kept %d items, want %d", len(a.got), tc.wantKept)
			}
			if got := testutil.ToFloat64(m.Dropped.WithLabelValues(SourceKernel)); got != tc.wantDropped {
				t.Errorf("kernel drops = %v, want %v", got, tc.wantDropped)
			}
			dropped := float64(tc.kernel+2-tc.size) - tc.wantDropped
			if got := testutil.ToFloat64(m.Dropped.WithLabelValues(SourceRuntime)); got != max(dropped, 0) {
				t.Errorf("runtime drops = %v, want %v", got, max(dropped, 0))
			}
		})
	}
}

func TestBuffer(t *testing.T) {
	cases := []struct {
		name        string
		size        int
		stall       bool
		emit        int
		wantDropped float64
	}{
		{name: "a sink whose buffer holds every event writes them all in order", size: 16, emit: 10},
		{name: "a stalled sink costs the events past its buffer, counted, and never blocks Emit", size: 4, stall: true, emit: 10, wantDropped: 10 - 4 - 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			writing := make(chan struct{}, 1)
			var got []string
			write := func(e *apiv1.Event) {
				if tc.stall {
					select {
					case writing <- struct{}{}:
					default:
					}
					<-release
				}
				got = append(got, e.Kind)
			}
			dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "d"})
			b := NewBuffer(tc.size, write, dropped)
			b.Emit(&apiv1.Event{Kind: "e0"})
			if tc.stall {
				<-writing // the writer holds e0; the buffer is empty again
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 1; i < tc.emit; i++ {
					b.Emit(&apiv1.Event{Kind: fmt.Sprint("e", i)})
				}
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Emit blocked behind a stalled sink")
			}
			close(release)
			b.Close(10 * time.Second)
			if d := testutil.ToFloat64(dropped); d != tc.wantDropped {
				t.Errorf("dropped = %v, want %v", d, tc.wantDropped)
			}
			if want := tc.emit - int(tc.wantDropped); len(got) != want {
				t.Errorf("wrote %v, want %d events", got, want)
			}
			for i, k := range got {
				if k != fmt.Sprint("e", i) {
					t.Errorf("event %d written is %s, want e%d", i, k, i)
				}
			}
		})
	}
}

// listerLog is a cri.Subscriber and cri.Lister that notes what it is told.
type listerLog []string

func (l *listerLog) ContainerChanged(info cri.ContainerInfo) { *l = append(*l, "container "+info.ID) }
func (l *listerLog) SandboxChanged(info cri.SandboxInfo)     { *l = append(*l, "sandbox "+info.ID) }
func (l *listerLog) Listed(x cri.Listing)                    { *l = append(*l, "listed "+x.Began.Format(time.TimeOnly)) }

// changesOnly is a cri.Subscriber that is no cri.Lister.
type changesOnly struct{ log listerLog }

func (c *changesOnly) ContainerChanged(info cri.ContainerInfo) { c.log.ContainerChanged(info) }
func (c *changesOnly) SandboxChanged(info cri.SandboxInfo)     { c.log.SandboxChanged(info) }

// The tracker's listings pass through the queue in order with its changes,
// to the subscribers that are listers, and to no other.
func TestListingsReachListers(t *testing.T) {
	q := New(8, NewMetrics(prometheus.NewRegistry()), nil)
	changes := q.Changes(SourceRuntime)
	changes.SandboxChanged(cri.SandboxInfo{ID: "sb"})
	changes.(cri.Lister).Listed(cri.Listing{Began: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	changes.ContainerChanged(cri.ContainerInfo{ID: "c"})
	q.Stop()
	var lister listerLog
	var other changesOnly
	q.Run(Subscribers(&lister, &other))
	if want := []string{"sandbox sb", "listed 03:04:05", "container c"}; !slices.Equal(lister, want) {
		t.Errorf("the lister was told %q, want %q", lister, want)
	}
	if want := []string{"sandbox sb", "container c"}; !slices.Equal(other.log, want) {
		t.Errorf("the other subscriber was told %q, want %q", other.log, want)
	}
}
