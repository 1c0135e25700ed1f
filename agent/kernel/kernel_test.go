package kernel

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/cgroup"
	"github.com/graceline/graceline/bpf/process"
	"github.com/graceline/graceline/bpf/signals"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/pacer"
)

// testNow is when a test source's clock starts.
var testNow = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// testWindow is a test source's attribution window.
const testWindow = time.Second

// newTestKernelSource returns a source whose clock reads *clock, which
// starts at testNow: tests move time by moving it.
func newTestKernelSource(t *testing.T) (k *kernelSource, out *[]*apiv1.Event, clock *time.Time) {
	t.Helper()
	out, clock = new([]*apiv1.Event), new(time.Time)
	*clock = testNow
	now := func() time.Time { return *clock }
	m := testMetrics(prometheus.NewRegistry())
	reg := newRegistry(5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	reg.now = now
	k = &kernelSource{reg: reg, emit: func(e *apiv1.Event) { *out = append(*out, e) }, node: "n", hostNS: 1, window: testWindow, now: now, cniRescan: time.Hour, pace: pacer.New(testWindow / 4), dropped: m.Dropped, unattributed: m.Unattributed, repaired: m.Repaired, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return k, out, clock
}

func TestKernelAttribution(t *testing.T) {
	const ns = 4026532000
	known := &containerRef{id: "c1", name: "main", pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}, preStop: []string{"sleep", "1"}}
	now := testNow
	cases := []struct {
		name  string
		known bool
		event kernelEvent
		// expire retries the held events as the window's tick does, after
		// the clock moved by advance.
		expire  bool
		advance time.Duration
		// listing is the runtime's last listing, as the tracker delivered it.
		listing   cri.Listing
		wantKind  string
		wantOwner string // container id, "" for none
		wantHeld  bool
	}{
		{
			name:     "a signal to a known container is attributed to the target's container, with the host sender named",
			known:    true,
			event:    kernelEvent{signal: &signals.Event{Type: signals.Generate, Time: now, Signal: syscall.SIGTERM, MntNS: ns, Pid: 10, Tid: 10, Comm: "sh", SenderPid: 99, SenderComm: "runc", SenderMntNS: 1}},
			wantKind: apiv1.KindSignalGenerated, wantOwner: "c1",
		},
		{
			name:     "an entering exec with the preStop argv is a prestop_exec",
			known:    true,
			event:    kernelEvent{process: &process.Event{Type: process.Exec, Time: now, MntNS: ns, Pid: 11, Comm: "sleep", Argv: []string{"sleep", "1"}}},
			wantKind: apiv1.KindPreStopExec, wantOwner: "c1",
		},
		{
			name:     "any other entering exec is an exec",
			known:    true,
			event:    kernelEvent{process: &process.Event{Type: process.Exec, Time: now, MntNS: ns, Pid: 12, Comm: "ls", Argv: []string{"ls"}}},
			wantKind: apiv1.KindExec, wantOwner: "c1",
		},
		{
			name:     "an event about an unknown container is held",
			event:    kernelEvent{process: &process.Event{Type: process.Exit, Time: now, MntNS: ns, Pid: 13, Leader: true}},
			wantHeld: true,
		},
		{
			name:     "a held event is still held when its window has just run out",
			event:    kernelEvent{process: &process.Event{Type: process.Exit, Time: now, MntNS: ns, Pid: 14, Leader: true, ExitSignal: syscall.SIGKILL}},
			expire:   true,
			advance:  testWindow,
			listing:  cri.Listing{Began: now.Add(2 * testWindow), Streamed: true},
			wantHeld: true,
		},
		{
			name:     "a held event past the window is emitted without a container where the runtime's stream reports containers as they start",
			event:    kernelEvent{process: &process.Event{Type: process.Exit, Time: now, MntNS: ns, Pid: 14, Leader: true, ExitSignal: syscall.SIGKILL}},
			expire:   true,
			advance:  testWindow + time.Nanosecond,
			listing:  cri.Listing{Streamed: true},
			wantKind: apiv1.KindProcessExited,
		},
		{
			name:     "where the runtime is only listed, a held event past the window waits for a listing begun a window after it",
			event:    kernelEvent{process: &process.Event{Type: process.Exec, Time: now, MntNS: ns, Pid: 15, Comm: "sh"}},
			expire:   true,
			advance:  3 * testWindow,
			listing:  cri.Listing{Began: now.Add(testWindow / 2)},
			wantHeld: true,
		},
		{
			name:     "where the runtime is only listed, a held event goes without a container once a listing begun a window after it found none",
			event:    kernelEvent{process: &process.Event{Type: process.Exec, Time: now, MntNS: ns, Pid: 15, Comm: "sh"}},
			expire:   true,
			advance:  3 * testWindow,
			listing:  cri.Listing{Began: now.Add(testWindow)},
			wantKind: apiv1.KindExec,
		},
		{
			name:     "where the runtime cannot be listed, a held event goes without a container after five windows",
			event:    kernelEvent{process: &process.Event{Type: process.Exec, Time: now, MntNS: ns, Pid: 15, Comm: "sh"}},
			expire:   true,
			advance:  heldAtMost*testWindow + time.Nanosecond,
			wantKind: apiv1.KindExec,
		},
		{
			name:     "a host process is emitted at once",
			event:    kernelEvent{signal: &signals.Event{Type: signals.Deliver, Time: now, MntNS: 1, Signal: syscall.SIGTERM}},
			wantKind: apiv1.KindSignalDelivered,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, out, clock := newTestKernelSource(t)
			if tc.known {
				k.reg.byNS[ns] = known
			}
			k.reg.Listed(tc.listing)
			k.handle(tc.event)
			*clock = clock.Add(tc.advance)
			k.retryPending(tc.expire)
			if tc.wantHeld {
				if len(*out) != 0 || len(k.pending) != 1 {
					t.Fatalf("emitted %d, held %d; want it held", len(*out), len(k.pending))
				}
				k.reg.byNS[ns] = known
				k.retryPending(false)
				if len(*out) != 1 || (*out)[0].Container.GetId() != "c1" {
					t.Fatalf("held event not attributed once the container was known: %v", *out)
				}
				return
			}
			if len(*out) != 1 {
				t.Fatalf("emitted %d events, want 1", len(*out))
			}
			e := (*out)[0]
			if e.Kind != tc.wantKind || e.Container.GetId() != tc.wantOwner {
				t.Errorf("got %s for container %q, want %s for %q", e.Kind, e.Container.GetId(), tc.wantKind, tc.wantOwner)
			}
			if e.Kind == apiv1.KindSignalGenerated && (e.Sender.GetComm() != "runc" || e.Sender.GetContainerId() != "") {
				t.Errorf("sender = %v, want runc on the host", e.Sender)
			}
			if tc.expire && testutil.ToFloat64(k.unattributed) != 1 {
				t.Errorf("unattributed event not counted")
			}
		})
	}
}

type cgroupRemovalsFunc func(id uint64, path string, at time.Time)

func (f cgroupRemovalsFunc) CgroupRemoved(id uint64, path string, at time.Time) { f(id, path, at) }

// TestKernelCgroupRemoval checks that a removed cgroup goes to the release
// watcher, off the reader's goroutine, and is neither emitted nor held as a
// process event; and that a full queue to the watcher drops and counts.
func TestKernelCgroupRemoval(t *testing.T) {
	k, out, _ := newTestKernelSource(t)
	type removal struct {
		id   uint64
		path string
		at   time.Time
	}
	got := make(chan removal, 1)
	k.cgroups = cgroupRemovalsFunc(func(id uint64, path string, at time.Time) { got <- removal{id, path, at} })
	k.removals = make(chan cgroup.Event, 1)
	at := testNow
	k.handle(kernelEvent{cgroup: &cgroup.Event{Time: at, ID: 77, Path: "/k8s.io/abc"}})
	k.handle(kernelEvent{cgroup: &cgroup.Event{Time: at, ID: 78, Path: "/k8s.io/def"}})
	if n := testutil.ToFloat64(k.dropped.WithLabelValues("ebpf_queue_full")); n != 1 {
		t.Errorf("%v removals counted as dropped past the full queue, want 1", n)
	}
	k.mu.Lock()
	if len(*out) != 0 || len(k.pending) != 0 {
		t.Errorf("a cgroup removal was emitted (%d) or held (%d)", len(*out), len(k.pending))
	}
	k.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.attribute(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case r := <-got:
		if r.id != 77 || r.path != "/k8s.io/abc" || !r.at.Equal(at) {
			t.Errorf("release watcher got id %d, path %q at %s, want 77, /k8s.io/abc at %s", r.id, r.path, r.at, at)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the release watcher got no removal within 10s")
	}
}

// testMetrics are the source's metrics as the agent creates them.
func testMetrics(reg prometheus.Registerer) *Metrics {
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "events_dropped_total"}, []string{"reason"})
	repaired := prometheus.NewCounter(prometheus.CounterOpts{Name: "strings_repaired_total"})
	reg.MustRegister(dropped, repaired)
	return NewMetrics(reg, dropped, repaired)
}

// TestReusedNamespace checks that the events of a new namespace on the
// inode of a container whose init exited are not that container's: the
// kernel reuses the inode at once, and a rollout's next sandbox gets it
// before the runtime reports the old container stopped.
func TestReusedNamespace(t *testing.T) {
	const ns = 4026532000
	old := &containerRef{id: "c1", name: "main", pod: &apiv1.PodRef{Namespace: "ns", Name: "old", Uid: "u1"}, pid: 100}
	next := &containerRef{id: "s2", sandbox: true, pod: &apiv1.PodRef{Namespace: "ns", Name: "new", Uid: "u2"}, pid: 201}
	at := func(ms int) time.Time { return testNow.Add(time.Duration(ms) * time.Millisecond) }
	exit := func(ms int, pid uint32, comm string) kernelEvent {
		return kernelEvent{process: &process.Event{Type: process.Exit, Time: at(ms), MntNS: ns, Pid: pid, Tid: pid, Leader: true, Comm: comm}}
	}
	cases := []struct {
		name   string
		events []kernelEvent
		// stopped is when the runtime's report of the old container's
		// stop reached the agent, in ms, before the events did; 0 for
		// none.
		stopped int
		// want is each event's owner, in order: a container id, or "held".
		want []string
	}{
		{
			name:   "After the init's exit, the kills of the namespace's other processes are still the container's.",
			events: []kernelEvent{exit(1, 100, "sh"), exit(2, 101, "sleep")},
			want:   []string{"c1", "c1"},
		},
		{
			name: "A runc process after the init's exit is a new namespace's, and so is all that follows.",
			events: []kernelEvent{exit(1, 100, "sh"), exit(2, 101, "sleep"), exit(3, 200, "runc:[1:CHILD]"),
				{process: &process.Event{Type: process.Exec, Time: at(4), MntNS: ns, ParentMntNS: 1, Pid: 201, Comm: "pause"}}},
			want: []string{"c1", "c1", "held", "held"},
		},
		{
			name: "A runc process after the init's exit is a new namespace's, though the runtime's later report of the stop reached the agent first.",
			events: []kernelEvent{exit(1, 100, "sh"), exit(2, 101, "sleep"), exit(3, 200, "runc:[1:CHILD]"),
				{process: &process.Event{Type: process.Exec, Time: at(4), MntNS: ns, ParentMntNS: 1, Pid: 201, Comm: "pause"}}},
			stopped: 10,
			want:    []string{"c1", "c1", "held", "held"},
		},
		{
			name: "An exec from outside after the init's exit is a new namespace's.",
			events: []kernelEvent{exit(1, 100, "sh"),
				{process: &process.Event{Type: process.Exec, Time: at(4), MntNS: ns, ParentMntNS: 1, Pid: 201, Comm: "pause"}}},
			want: []string{"c1", "held"},
		},
		{
			name: "A runc process while the init lives is a kubectl exec's, the container's own.",
			events: []kernelEvent{exit(1, 300, "runc:[2:INIT]"),
				{process: &process.Event{Type: process.Exec, Time: at(2), MntNS: ns, ParentMntNS: 1, Pid: 300, Comm: "ls"}}},
			want: []string{"c1", "c1"},
		},
		{
			name:   "The exit of a thread that is not the leader is not the init's, and ends nothing.",
			events: []kernelEvent{{process: &process.Event{Type: process.Exit, Time: at(1), MntNS: ns, Pid: 100, Tid: 101, Leader: false}}, exit(2, 200, "runc:[1:CHILD]")},
			want:   []string{"c1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, out, _ := newTestKernelSource(t)
			o := *old
			if tc.stopped > 0 {
				o.stopped = at(tc.stopped)
			}
			k.reg.byNS[ns], k.reg.byID["c1"] = &o, ns
			var got []string
			for _, e := range tc.events {
				before, held := len(*out), len(k.pending)
				k.handle(e)
				switch {
				case len(*out) > before:
					got = append(got, (*out)[len(*out)-1].Container.GetId())
				case len(k.pending) > held:
					got = append(got, "held")
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("owners %q, want %q", got, tc.want)
			}
			// The runtime reports the new sandbox: the held events are its.
			n := *next
			k.reg.byNS[ns] = &n
			first := len(*out)
			k.retryPending(false)
			for _, e := range (*out)[first:] {
				if e.Pod.GetUid() != "u2" {
					t.Errorf("a held event went to pod %q, want the new sandbox's", e.Pod.GetUid())
				}
			}
		})
	}
}
