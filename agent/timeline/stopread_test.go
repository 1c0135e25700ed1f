package timeline

import (
	"sync"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
)

// readingInspector answers Processes with procs and counts the reads; its
// during, if set, runs inside the read, as the pipeline's goroutine can.
type readingInspector struct {
	fakeInspector
	procs  []*apiv1.Process
	frozen bool
	during func()

	mu    sync.Mutex
	reads []SubjectContainer
}

func (r *readingInspector) Processes(c SubjectContainer) ([]*apiv1.Process, bool) {
	r.mu.Lock()
	r.reads = append(r.reads, c)
	r.mu.Unlock()
	if r.during != nil {
		r.during()
	}
	return r.procs, r.frozen
}

func TestReadAtStop(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := script{t0: t0, pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}}
	sh := &apiv1.Process{Pid: 42, Comm: "sh", SigIgnored: []string{"SIGTERM"}}
	term := func(at time.Duration, result string) *apiv1.Event {
		return s.ev(apiv1.KindSignalGenerated, at, func(e *apiv1.Event) {
			signal("SIGTERM", 42, "")(e)
			e.Signal.Number, e.Signal.Result = 15, result
		})
	}
	sandboxGone := []*apiv1.Event{
		s.ev(apiv1.KindSandboxStopped, 3*time.Second+100*time.Millisecond, func(e *apiv1.Event) { e.Container = nil }),
		s.ev(apiv1.KindSandboxRemoved, 3*time.Second+200*time.Millisecond, func(e *apiv1.Event) { e.Container = nil }),
	}
	// The deletion's end after SIGKILL at 3 s, the runtime's exit report
	// first, as it can come before the kernel's SIGKILL.
	killed := append([]*apiv1.Event{
		s.ev(apiv1.KindContainerExited, 3*time.Second, exit(137)),
		s.ev(apiv1.KindSignalGenerated, 3*time.Second, signal("SIGKILL", 42, "")),
		s.ev(apiv1.KindProcessExited, 3*time.Second, func(e *apiv1.Event) {
			e.Process, e.ExitSignal = &apiv1.Process{Pid: 42, Comm: "sh"}, new(int32)
			*e.ExitSignal = 9
		}),
	}, sandboxGone...)
	// Or the init's exit on the signal.
	graceful := append([]*apiv1.Event{
		s.ev(apiv1.KindProcessExited, 500*time.Millisecond, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 42, Comm: "sh"} }),
		s.ev(apiv1.KindContainerExited, 500*time.Millisecond, exit(0)),
	}, sandboxGone...)
	cases := []struct {
		name      string
		procs     []*apiv1.Process
		stops     []*apiv1.Event
		end       []*apiv1.Event
		wantReads int
		// wantInspected says a container_inspected event comes out, folded
		// into the summary's cause.
		wantInspected bool
		wantCause     string
	}{
		{
			name: "The stop signal has the container read once, and SIGKILL emits the reading, which the summary's cause uses.", procs: []*apiv1.Process{sh},
			stops: []*apiv1.Event{term(0, "ignored")}, end: killed, wantReads: 1, wantInspected: true, wantCause: apiv1.CauseSignalIgnored,
		},
		{
			name: "A second stop signal does not read the container again.", procs: []*apiv1.Process{sh},
			stops: []*apiv1.Event{term(0, "ignored"), term(time.Second, "ignored")}, end: killed, wantReads: 1, wantInspected: true, wantCause: apiv1.CauseSignalIgnored,
		},
		{
			name: "A container that exits on its stop signal needs no reading, and none is emitted.", procs: []*apiv1.Process{sh},
			stops: []*apiv1.Event{term(0, "delivered")}, end: graceful, wantReads: 1, wantCause: apiv1.CauseExitedOnStopSignal,
		},
		{
			name:  "A read that finds no process emits nothing, and the cause says the masks are missing.",
			stops: []*apiv1.Event{term(0, "ignored")}, end: killed, wantReads: 1, wantCause: apiv1.CauseUnknown,
		},
		{
			name: "A signal from inside the container is no stop signal and reads nothing.", procs: []*apiv1.Process{sh},
			stops: []*apiv1.Event{s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "c1"))}, end: killed, wantCause: apiv1.CauseKilledWithoutStopSignal,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out []*apiv1.Event
			in := &readingInspector{procs: tc.procs}
			c := New("n", func(e *apiv1.Event) { out = append(out, e) }, in, DefaultConfig())
			c.now = func() time.Time { return t0.Add(10 * time.Millisecond) }
			c.ContainerChanged(cri.ContainerInfo{ID: "c1", CgroupsPath: "/kubepods/c1", Meta: cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u", ContainerName: "main", GracePeriod: 3}, Pid: 42})
			for _, e := range tc.stops {
				c.Observe(e)
				c.ReadStops()
			}
			if len(in.reads) != tc.wantReads {
				t.Fatalf("%d reads %v, want %d", len(in.reads), in.reads, tc.wantReads)
			}
			if tc.wantReads > 0 && (in.reads[0].ID != "c1" || in.reads[0].Pid != 42 || in.reads[0].CgroupsPath != "/kubepods/c1") {
				t.Errorf("read %+v, want container c1 with its init and cgroup", in.reads[0])
			}
			if len(out) != 0 {
				t.Fatalf("emitted %v before the stop's outcome", out)
			}
			for _, e := range tc.end {
				c.Observe(e)
			}
			c.now = func() time.Time { return t0.Add(time.Minute) }
			c.Check()
			var inspected *apiv1.Event
			for _, e := range out {
				if e.Kind == apiv1.KindContainerInspected {
					inspected = e
				}
			}
			if (inspected != nil) != tc.wantInspected {
				t.Fatalf("emitted %v, want a container_inspected: %v", out, tc.wantInspected)
			}
			if inspected != nil && (inspected.GetContainer().GetId() != "c1" || inspected.GetPod().GetUid() != "u" || len(inspected.Processes) != 1 || inspected.Frozen == nil) {
				t.Errorf("container_inspected %v, want c1's processes and its freezer state", inspected)
			}
			sum := out[len(out)-1]
			if sum.Kind != apiv1.KindTerminationSummary || len(sum.Causes) != 1 || sum.Causes[0].Cause != tc.wantCause {
				t.Fatalf("last event %v, want a summary with cause %s", sum, tc.wantCause)
			}
		})
	}
}

// TestStuckReportShipsTheInspection: a stop that hangs before any SIGKILL
// (a stopped runtime) sends what was read at the stop with its stuck
// report, before it.
func TestStuckReportShipsTheInspection(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := script{t0: t0, pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}}
	var out []*apiv1.Event
	in := &readingInspector{procs: []*apiv1.Process{{Pid: 42, Comm: "sh"}}}
	c := New("n", func(e *apiv1.Event) { out = append(out, e) }, in, DefaultConfig())
	c.ContainerChanged(cri.ContainerInfo{ID: "c1", Meta: cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u", ContainerName: "main", GracePeriod: 3}, Pid: 42})
	c.Observe(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")))
	c.ReadStops()
	c.now = func() time.Time { return t0.Add(time.Minute) }
	c.Check()
	if len(out) != 2 || out[0].Kind != apiv1.KindContainerInspected || out[1].Kind != apiv1.KindStuck {
		t.Fatalf("emitted %v, want the inspection, then the stuck report", out)
	}
	// Sent once.
	c.now = func() time.Time { return t0.Add(2 * time.Minute) }
	c.Check()
	for _, e := range out[2:] {
		if e.Kind == apiv1.KindContainerInspected {
			t.Errorf("the inspection was sent again: %v", e)
		}
	}
}

func TestReadStopsWithoutTheLock(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := script{t0: t0, pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}}
	in := &readingInspector{procs: []*apiv1.Process{{Pid: 42, Comm: "sh"}}}
	c := New("n", func(*apiv1.Event) {}, in, DefaultConfig())
	in.during = func() {
		c.Observe(s.ev(apiv1.KindProcessExited, time.Second, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 43} }))
	}
	c.ContainerChanged(cri.ContainerInfo{ID: "c1", Meta: cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u", ContainerName: "main", GracePeriod: 3}, Pid: 42})
	c.Observe(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")))
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.ReadStops()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ReadStops held its lock while reading: Observe from the reader never returned")
	}
}

func TestSummarisedPodGetsNoLateInspection(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := script{t0: t0, pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}}
	var out []*apiv1.Event
	in := &readingInspector{procs: []*apiv1.Process{{Pid: 42, Comm: "sh"}}}
	c := New("n", func(e *apiv1.Event) { out = append(out, e) }, in, DefaultConfig())
	c.ContainerChanged(cri.ContainerInfo{ID: "c1", Meta: cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u", ContainerName: "main", GracePeriod: 3}, Pid: 42})
	for _, e := range []*apiv1.Event{
		s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
		s.ev(apiv1.KindContainerExited, 10*time.Millisecond, exit(0)),
		s.ev(apiv1.KindSandboxRemoved, 100*time.Millisecond, func(e *apiv1.Event) { e.Container = nil }),
	} {
		c.Observe(e)
	}
	c.now = func() time.Time { return t0.Add(time.Minute) }
	c.Check()
	c.ReadStops()
	if len(out) != 1 || out[0].Kind != apiv1.KindTerminationSummary {
		t.Fatalf("emitted %v, want the summary alone", out)
	}
}
