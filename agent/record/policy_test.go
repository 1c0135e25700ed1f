package record

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/setting"
)

const uid = "pod-1"

var signalNumbers = map[string]int32{"SIGHUP": 1, "SIGKILL": 9, "SIGTERM": 15}

func base(kind, cid string) *apiv1.Event {
	e := &apiv1.Event{Kind: kind, Pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: uid}}
	if cid != "" {
		e.Container = &apiv1.ContainerRef{Id: cid, Name: cid}
	}
	return e
}

func exited(cid string, pid int32, comm string) *apiv1.Event {
	e := base(apiv1.KindProcessExited, cid)
	e.Process = &apiv1.Process{Pid: pid, Comm: comm}
	return e
}

func execed(cid string, pid int32, comm string) *apiv1.Event {
	e := exited(cid, pid, comm)
	e.Kind = apiv1.KindExec
	return e
}

// sent is a signal_generated to pid from senderCid's process (the host's
// for ""), or from the kernel when senderCid is "kernel".
func sent(cid, sig string, pid int32, senderCid string) *apiv1.Event {
	e := base(apiv1.KindSignalGenerated, cid)
	e.Signal = &apiv1.Signal{Number: signalNumbers[sig], Name: sig, Result: "delivered"}
	e.Target = &apiv1.Task{Pid: pid, Tid: pid, Comm: "target"}
	e.Sender = &apiv1.Sender{Pid: 4242, Comm: "runc", ContainerId: senderCid}
	if senderCid == "kernel" {
		e.Sender = &apiv1.Sender{Pid: 4242, Comm: "sh", ContainerId: cid, Kernel: apiv1.SenderKernel}
	}
	return e
}

func delivered(cid, sig string, pid, tid int32, comm string) *apiv1.Event {
	e := base(apiv1.KindSignalDelivered, cid)
	e.Signal = &apiv1.Signal{Number: signalNumbers[sig], Name: sig}
	e.Target = &apiv1.Task{Pid: pid, Tid: tid, Comm: comm}
	e.Disposition = "default"
	return e
}

// ofThreads is a delivery to a process the kernel says had n threads.
func ofThreads(n int32, e *apiv1.Event) *apiv1.Event {
	e.Target.Threads = n
	return e
}

// show is one recorded event as a test reads it.
func show(e *apiv1.Event) string {
	s := e.Kind
	if c := e.GetContainer().GetId(); c != "" {
		s += " " + c
	}
	switch {
	case e.Signal != nil:
		s += fmt.Sprintf(" %s %d", e.Signal.Name, e.Target.GetPid())
	case e.Process != nil:
		s += fmt.Sprintf(" %d", e.Process.Pid)
	}
	if e.Count > 0 {
		s += fmt.Sprintf(" x%d", e.Count)
	}
	return s
}

// step is one thing that happens to the policy: an event, or time passing
// (a tick after advance).
type step struct {
	e       *apiv1.Event
	advance time.Duration
}

func events(es ...*apiv1.Event) []step {
	var s []step
	for _, e := range es {
		s = append(s, step{e: e})
	}
	return s
}

func TestPolicy(t *testing.T) {
	sleeps := func(cid string, from, n int32) []*apiv1.Event {
		var es []*apiv1.Event
		for i := range n {
			es = append(es, exited(cid, from+i, "sleep"))
		}
		return es
	}
	for _, tc := range []struct {
		name      string
		history   int // 0 for DefaultHistory
		steps     []step
		want      []string
		dropped   map[string]float64
		collapsed float64
	}{
		{
			name:  "A container's init process is recorded before any window.",
			steps: events(execed("a", 100, "sh"), sent("a", "SIGHUP", 100, "b")),
			want:  []string{"exec a 100", "signal_generated a SIGHUP 100"},
		},
		{
			name:    "A chatty loop's exits outside a window are dropped and counted once the history is full.",
			history: 2,
			steps:   events(sleeps("a", 200, 5)...),
			dropped: map[string]float64{DroppedOutsideWindow: 3},
		},
		{
			name:    "A stop signal from outside opens the window: the history comes first, then every process of the container.",
			history: 2,
			steps:   events(append(sleeps("a", 200, 3), sent("a", "SIGTERM", 100, ""), exited("a", 300, "sleep"), execed("a", 301, "ls"))...),
			want:    []string{"process_exited a 201", "process_exited a 202", "signal_generated a SIGTERM 100", "process_exited a 300", "exec a 301"},
			dropped: map[string]float64{DroppedOutsideWindow: 1},
		},
		{
			name:    "A signal from another container is recorded and opens no window.",
			history: 1,
			steps:   events(sent("a", "SIGTERM", 7, "b"), exited("a", 8, "sleep"), exited("a", 9, "sleep")),
			want:    []string{"signal_generated a SIGTERM 7"},
			dropped: map[string]float64{DroppedOutsideWindow: 1},
		},
		{
			name:    "A SIGKILL the kernel sends is recorded.",
			history: 1,
			steps:   events(sent("a", "SIGKILL", 7, "kernel"), exited("a", 8, "sleep")),
			want:    []string{"signal_generated a SIGKILL 7"},
		},
		{
			name: "A signal within the container to one of its other processes waits in the history.",
			steps: events(sent("a", "SIGTERM", 7, "a"), delivered("a", "SIGTERM", 7, 7, "sleep"),
				base(apiv1.KindContainerExited, "a")),
			want: []string{"signal_generated a SIGTERM 7", "signal_delivered a SIGTERM 7", "container_exited a"},
		},
		{
			name: "The pause process's six SIGKILLs are one row with a count of six.",
			steps: events(sent("", "SIGKILL", 50, ""),
				delivered("", "SIGKILL", 50, 51, "pause"), delivered("", "SIGKILL", 50, 52, "pause"), delivered("", "SIGKILL", 50, 53, "pause"),
				delivered("", "SIGKILL", 50, 54, "pause"), delivered("", "SIGKILL", 50, 55, "pause"), delivered("", "SIGKILL", 50, 50, "pause"),
				exited("", 50, "pause")),
			// The row waits for its repeats; the exit does not.
			want:      []string{"signal_generated SIGKILL 50", "process_exited 50", "signal_delivered SIGKILL 50 x6"},
			collapsed: 5,
		},
		{
			name: "A SIGKILL's row leaves with the delivery to its process's last thread, before what follows.",
			steps: events(ofThreads(3, delivered("", "SIGKILL", 50, 51, "pause")), ofThreads(3, delivered("", "SIGKILL", 50, 52, "pause")),
				ofThreads(2, delivered("", "SIGKILL", 50, 50, "pause")), exited("", 50, "pause")),
			want:      []string{"signal_delivered SIGKILL 50 x3", "process_exited 50"},
			collapsed: 2,
		},
		{
			name:  "A single-threaded process's SIGKILL leaves at once.",
			steps: events(base(apiv1.KindContainerExited, "a"), ofThreads(1, delivered("a", "SIGKILL", 7, 7, "sleep")), exited("a", 7, "sleep")),
			want:  []string{"container_exited a", "signal_delivered a SIGKILL 7", "process_exited a 7"},
		},
		{
			name: "After a SIGTERM that ends a process, its other threads' SIGKILLs are one row, whole one short of the thread count.",
			steps: events(base(apiv1.KindSandboxStopped, ""), ofThreads(3, delivered("a", "SIGTERM", 7, 7, "app")),
				ofThreads(3, delivered("a", "SIGKILL", 7, 8, "app")), ofThreads(3, delivered("a", "SIGKILL", 7, 9, "app")), exited("a", 7, "app")),
			want:      []string{"sandbox_stopped", "signal_delivered a SIGTERM 7", "signal_delivered a SIGKILL 7 x2", "process_exited a 7"},
			collapsed: 1,
		},
		{
			name: "A SIGKILL's thread that dequeues it seconds late still counts in its row.",
			steps: []step{{e: ofThreads(2, delivered("", "SIGKILL", 50, 51, "pause"))}, {advance: 3 * time.Second},
				{e: ofThreads(2, delivered("", "SIGKILL", 50, 50, "pause"))}, {e: exited("", 50, "pause")}},
			want:      []string{"signal_delivered SIGKILL 50 x2", "process_exited 50"},
			collapsed: 1,
		},
		{
			name: "A thread's SIGKILL after its process's row went out whole is dropped and counted, not a second row.",
			steps: events(ofThreads(2, delivered("", "SIGKILL", 50, 50, "pause")), ofThreads(2, delivered("", "SIGKILL", 50, 51, "pause")),
				exited("", 50, "pause"), ofThreads(1, delivered("", "SIGKILL", 50, 52, "pause"))),
			want:      []string{"signal_delivered SIGKILL 50 x2", "process_exited 50"},
			collapsed: 1,
			dropped:   map[string]float64{DroppedLateRepeat: 1},
		},
		{
			name: "A SIGKILL to the same pid long after is another process's, and a row of its own.",
			steps: []step{{e: base(apiv1.KindSandboxStopped, "")}, {e: ofThreads(1, delivered("a", "SIGKILL", 7, 7, "sleep"))}, {advance: holdKill},
				{e: ofThreads(1, delivered("a", "SIGKILL", 7, 7, "sleep"))}},
			want: []string{"sandbox_stopped", "signal_delivered a SIGKILL 7", "signal_delivered a SIGKILL 7"},
		},
		{
			name: "Without a thread count, a SIGKILL's row waits a second for its repeats.",
			steps: []step{{e: delivered("", "SIGKILL", 50, 51, "pause")}, {e: delivered("", "SIGKILL", 50, 50, "pause")},
				{advance: holdFor}, {e: exited("", 50, "pause")}},
			want:      []string{"signal_delivered SIGKILL 50 x2", "process_exited 50"},
			collapsed: 1,
		},
		{
			name: "Another signal's row leaves at once, and a later delivery is a row of its own.",
			steps: events(base(apiv1.KindSandboxStopped, ""), delivered("a", "SIGTERM", 7, 7, "sleep"),
				delivered("a", "SIGTERM", 7, 7, "sleep")),
			want: []string{"sandbox_stopped", "signal_delivered a SIGTERM 7", "signal_delivered a SIGTERM 7"},
		},
		{
			name: "A row waits for the ones held before it, so that rows leave in the order they came.",
			steps: []step{{e: base(apiv1.KindSandboxStopped, "")}, {e: ofThreads(2, delivered("", "SIGKILL", 50, 50, "pause"))},
				{e: delivered("a", "SIGTERM", 7, 7, "sleep")}, {advance: holdFor}, {e: exited("a", 7, "sleep")}},
			want: []string{"sandbox_stopped", "process_exited a 7", "signal_delivered SIGKILL 50", "signal_delivered a SIGTERM 7"},
		},
		{
			name: "Deliveries to different processes are not collapsed.",
			steps: events(base(apiv1.KindContainerExited, "a"),
				delivered("a", "SIGKILL", 7, 7, "sleep"), delivered("a", "SIGKILL", 8, 8, "sleep"), base(apiv1.KindContainerStopped, "a")),
			want: []string{"container_exited a", "container_stopped a", "signal_delivered a SIGKILL 7", "signal_delivered a SIGKILL 8"},
		},
		{
			name: "runc init's threads' SIGKILLs at container start are dropped and counted, though runc init is the container's init.",
			steps: events(delivered("a", "SIGKILL", 100, 101, "runc:[2:INIT]"), delivered("a", "SIGKILL", 100, 102, "runc:[2:INIT]"),
				delivered("", "SIGKILL", 50, 51, "runc:[2:INIT]"), execed("a", 100, "sh")),
			want:    []string{"exec a 100"},
			dropped: map[string]float64{DroppedRuncInit: 3},
		},
		{
			name: "The pod's own stop ships every container's history and records all its processes.",
			steps: events(exited("a", 7, "sleep"), exited("b", 8, "sleep"), base(apiv1.KindSandboxStopped, ""),
				exited("b", 9, "sleep")),
			want: []string{"process_exited a 7", "process_exited b 8", "sandbox_stopped", "process_exited b 9"},
		},
		{
			name: "The init's exit opens its container's window and no other's.",
			steps: events(exited("a", 7, "sleep"), exited("b", 8, "sleep"), exited("a", 100, "sh"),
				exited("b", 9, "sleep")),
			want: []string{"process_exited a 7", "process_exited a 100"},
		},
		{
			name: "A termination summary ships the history of a container whose window never opened.",
			steps: events(exited("a", 7, "sleep"), exited("b", 8, "sleep"), exited("a", 100, "sh"),
				base(apiv1.KindTerminationSummary, "")),
			want: []string{"process_exited a 7", "process_exited a 100", "process_exited b 8", "termination_summary"},
		},
		{
			name: "A container summary ships what is held and closes the window: the next container starts with a history again.",
			steps: events(base(apiv1.KindContainerExited, "a"), delivered("a", "SIGKILL", 7, 7, "sleep"),
				base(apiv1.KindContainerSummary, "a"), exited("a2", 8, "sleep")),
			want: []string{"container_exited a", "signal_delivered a SIGKILL 7", "container_summary a"},
		},
		{
			name:    "A termination summary ends the pod: late events pass as they are.",
			history: 1,
			steps: events(sent("", "SIGKILL", 50, ""), base(apiv1.KindTerminationSummary, ""),
				exited("a", 7, "sleep")),
			want: []string{"signal_generated SIGKILL 50", "termination_summary", "process_exited a 7"},
		},
		{
			name:    "A history of one keeps the last event only.",
			history: 1,
			steps:   events(exited("a", 7, "sleep"), exited("a", 8, "sleep"), base(apiv1.KindContainerExited, "a")),
			want:    []string{"process_exited a 8", "container_exited a"},
			dropped: map[string]float64{DroppedOutsideWindow: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			m := NewMetrics(prometheus.NewRegistry(), prometheus.NewCounterVec(prometheus.CounterOpts{Name: "d"}, []string{"reason"}))
			p := New(func(e *apiv1.Event) { got = append(got, show(e)) }, Config{Mode: ModePolicy, History: tc.history}, m)
			now := time.Unix(1000, 0)
			p.now = func() time.Time { return now }
			p.ContainerChanged(cri.ContainerInfo{ID: "a", Meta: cri.Meta{PodUID: uid}, Pid: 100})
			p.ContainerChanged(cri.ContainerInfo{ID: "b", Meta: cri.Meta{PodUID: uid}, Pid: 110})
			p.SandboxChanged(cri.SandboxInfo{ID: "s", Meta: cri.Meta{PodUID: uid}, Pid: 50})
			for _, s := range tc.steps {
				if s.e != nil {
					p.Emit(s.e)
					continue
				}
				now = now.Add(s.advance)
				p.Tick()
			}
			// What is still held goes out, so that the test sees it.
			now = now.Add(holdKill)
			p.Tick()
			if !slices.Equal(got, tc.want) {
				t.Errorf("recorded:\n%q\nwant:\n%q", got, tc.want)
			}
			for _, r := range []string{DroppedOutsideWindow, DroppedRuncInit, DroppedLateRepeat} {
				if n := testutil.ToFloat64(m.Dropped.WithLabelValues(r)); n != tc.dropped[r] {
					t.Errorf("dropped %s: %v, want %v", r, n, tc.dropped[r])
				}
			}
			if n := testutil.ToFloat64(m.Collapsed); n != tc.collapsed {
				t.Errorf("collapsed: %v, want %v", n, tc.collapsed)
			}
		})
	}
}

func TestHeldRow(t *testing.T) {
	var got []string
	m := NewMetrics(prometheus.NewRegistry(), prometheus.NewCounterVec(prometheus.CounterOpts{Name: "d"}, []string{"reason"}))
	p := New(func(e *apiv1.Event) { got = append(got, show(e)) }, DefaultConfig(), m)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	p.ContainerChanged(cri.ContainerInfo{ID: "a", Meta: cri.Meta{PodUID: uid}, Pid: 100})
	p.Emit(delivered("a", "SIGKILL", 100, 100, "sh"))
	p.Emit(delivered("a", "SIGKILL", 100, 101, "sh"))
	for _, step := range []struct {
		name    string
		advance time.Duration
		want    []string
	}{
		{"Half a second after it came, a SIGKILL's row of no known thread count still waits for repeats.", 500 * time.Millisecond, nil},
		{"A second after it came, it goes out with its count, though nothing else followed.", 500 * time.Millisecond, []string{"signal_delivered a SIGKILL 100 x2"}},
	} {
		now = now.Add(step.advance)
		p.Tick()
		if !slices.Equal(got, step.want) {
			t.Errorf("%s recorded %q, want %q", step.name, got, step.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // the setting refused; "" for none
	}{
		{"The defaults are accepted.", DefaultConfig(), ""},
		{"The firehose is accepted.", Config{Mode: ModeAll}, ""},
		{"An empty configuration is the policy with its default history.", Config{}, ""},
		{"An unknown mode is refused.", Config{Mode: "everything", History: 1}, "Mode"},
		{"A negative history is refused.", Config{Mode: ModePolicy, History: -1}, "History"},
		{"A history past its bound is refused.", Config{Mode: ModePolicy, History: MaxHistory + 1}, "History"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := setting.NameOf(tc.cfg.Validate()); got != tc.want {
				t.Errorf("refused %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEmitWhileTicking: the correlator emits summaries from its own
// goroutine while the pipeline's emits events and Run ticks; with -race this
// fails if any of them touches the state outside the lock.
func TestEmitWhileTicking(t *testing.T) {
	var n int
	m := NewMetrics(prometheus.NewRegistry(), prometheus.NewCounterVec(prometheus.CounterOpts{Name: "d"}, []string{"reason"}))
	p := New(func(*apiv1.Event) { n++ }, DefaultConfig(), m)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			p.Tick()
			p.Emit(base(apiv1.KindContainerSummary, "a"))
		}
	}()
	for i := range int32(200) {
		p.Emit(delivered("a", "SIGKILL", 100+i, 100+i, "sleep"))
		p.Emit(base(apiv1.KindContainerExited, "a"))
	}
	<-done
	p.Emit(base(apiv1.KindTerminationSummary, ""))
	if n < 601 {
		t.Errorf("recorded %d events, want at least the 200 exits, 200 summaries and the final summary", n)
	}
}

// windowLog records the kernel's window changes the policy makes.
type windowLog []string

func (w *windowLog) Open(pod, cid string)  { *w = append(*w, "open "+pod+"/"+cid) }
func (w *windowLog) Close(pod, cid string) { *w = append(*w, "close "+pod+"/"+cid) }

// TestKernelWindows: the kernel's windows open and close with the
// policy's own, once each, so that the kernel lets a container's other
// processes through exactly while the policy records them.
func TestKernelWindows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []*apiv1.Event
		want  []string
	}{
		{
			name:  "A stop signal to a container's init opens its window once, and its summary closes it.",
			steps: []*apiv1.Event{sent("a", "SIGTERM", 100, ""), sent("a", "SIGKILL", 100, ""), base(apiv1.KindContainerSummary, "a")},
			want:  []string{"open pod-1/a", "close pod-1/a"},
		},
		{
			name:  "The sandbox's stop opens the whole pod's window, and the pod's summary closes it.",
			steps: []*apiv1.Event{base(apiv1.KindSandboxStopped, ""), base(apiv1.KindTerminationSummary, "")},
			want:  []string{"open pod-1/", "close pod-1/"},
		},
		{
			name:  "A chatty loop outside a window changes nothing in the kernel.",
			steps: []*apiv1.Event{exited("a", 200, "sleep"), exited("a", 201, "sleep")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w windowLog
			p := New(func(*apiv1.Event) {}, Config{}, NewMetrics(prometheus.NewRegistry(), prometheus.NewCounterVec(prometheus.CounterOpts{Name: "d"}, []string{"reason"})))
			p.UseKernel(&w)
			p.ContainerChanged(cri.ContainerInfo{ID: "a", Meta: cri.Meta{PodUID: uid}, Pid: 100})
			for _, e := range tc.steps {
				p.Emit(e)
			}
			if !slices.Equal(w, tc.want) {
				t.Errorf("kernel windows %q, want %q", w, tc.want)
			}
		})
	}
}
