package readiness

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graceline/graceline/agent/diagnose"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
)

// fakeProc is a /proc of a few processes, written as the kernel shows
// them, that the real InitReader reads.
type fakeProc struct {
	t    *testing.T
	root string
}

// proc writes pid's stat and status. Its start is old (a tick after boot)
// unless fresh, which makes it start at the read.
func (f fakeProc) proc(pid, ppid int, comm string, ign, cgt, blk uint64, fresh bool, children ...int) {
	f.t.Helper()
	start := "1"
	if fresh {
		b, err := os.ReadFile("/proc/uptime")
		if err != nil {
			f.t.Fatalf("read uptime: %v", err)
		}
		up := strings.Fields(string(b))[0]
		secs, _, _ := strings.Cut(up, ".")
		start = secs + "00"
	}
	dir := filepath.Join(f.root, fmt.Sprint(pid))
	task := filepath.Join(dir, "task", fmt.Sprint(pid))
	if err := os.MkdirAll(task, 0o755); err != nil {
		f.t.Fatal(err)
	}
	stat := fmt.Sprintf("%d (%s) S %d %d %d 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 %s 1000 100\n", pid, comm, ppid, pid, pid, start)
	status := fmt.Sprintf("Name:\t%s\nState:\tS (sleeping)\nPid:\t%d\nSigQ:\t0/1000\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t%016x\nSigIgn:\t%016x\nSigCgt:\t%016x\n", comm, pid, blk, ign, cgt)
	var kids []string
	for _, c := range children {
		kids = append(kids, fmt.Sprint(c))
	}
	for name, text := range map[string]string{filepath.Join(dir, "stat"): stat, filepath.Join(dir, "status"): status, filepath.Join(task, "children"): strings.Join(kids, " ")} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f fakeProc) gone(pid int) {
	if err := os.RemoveAll(filepath.Join(f.root, fmt.Sprint(pid))); err != nil {
		f.t.Fatal(err)
	}
}

// Masks of /proc/<pid>/status: bit n-1 for signal n.
const (
	term  = 1 << (15 - 1)
	usr1  = 1 << (10 - 1)
	chld  = 1 << (17 - 1)
	intQt = 1<<(2-1) | 1<<(3-1)
)

type stopSignal int32

func (s stopSignal) StopSignal(context.Context, string) int32 { return int32(s) }

// clock is the reader's injected clock.
type clock struct{ at time.Time }

func (c *clock) now() time.Time { return c.at }

func running(pid int32) cri.ContainerInfo {
	return cri.ContainerInfo{ID: "c1", Pid: pid, Meta: cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u1", ContainerName: "main"}}
}

func TestReader(t *testing.T) {
	type step struct {
		after time.Duration // since the container started
		write func(f fakeProc)
		// stop stops the container before the tick.
		stop bool
		// signal is a signal to the init, from the runtime, seen before
		// the tick.
		signal int32
		// want is the cause of the event the tick emits; "" for none.
		want string
	}
	shNoTrap := func(f fakeProc) {
		f.proc(100, 1, "sh", 0, chld, 0, false, 101)
		f.proc(101, 100, "sleep", 0, 0, 0, true)
	}
	cases := []struct {
		name  string
		stops stopSignals
		steps []step
	}{
		{
			name: "A shell without a trap is read at its start and predicted to be killed, and a read that finds the same emits nothing.",
			steps: []step{
				{after: 0, write: shNoTrap, want: apiv1.CausePID1NoHandler},
				{after: DefaultSoon, want: ""},
				{after: DefaultSoon + time.Minute, want: ""},
			},
		},
		{
			name: "A trap '' TERM set after the first read shows at the read soon after the start.",
			steps: []step{
				{after: 0, write: shNoTrap, want: apiv1.CausePID1NoHandler},
				{after: time.Second, want: ""}, // not due yet
				{after: DefaultSoon, write: func(f fakeProc) { f.proc(100, 1, "sh", term, chld, 0, false) }, want: apiv1.CauseSignalIgnored},
			},
		},
		{
			name: "A shell whose trap waits on a long-running foreground child is predicted to leave it without the signal.",
			steps: []step{
				{after: 0, write: func(f fakeProc) {
					f.proc(100, 1, "sh", 0, term|chld, 0, false, 101)
					f.proc(101, 100, "sleep", 0, 0, 0, false)
				}, want: apiv1.CauseSignalNotForwarded},
			},
		},
		{
			name: "A shell whose trap waits on a background job exits on its signal.",
			steps: []step{
				{after: 0, write: func(f fakeProc) {
					f.proc(100, 1, "sh", 0, term|chld, 0, false, 101)
					f.proc(101, 100, "worker", intQt, 0, 0, false)
				}, want: apiv1.CauseExitedOnStopSignal},
			},
		},
		{
			name:  "An image whose STOPSIGNAL SIGUSR1 the init handles exits on it.",
			stops: stopSignal(10),
			steps: []step{
				{after: 0, write: func(f fakeProc) { f.proc(100, 1, "sh", 0, usr1|chld, 0, false) }, want: apiv1.CauseExitedOnStopSignal},
			},
		},
		{
			name: "A container is read no more once the runtime's stop signal reaches its init: its trap's long command is the stop itself, not a worker.",
			steps: []step{
				{after: 0, write: func(f fakeProc) { f.proc(100, 1, "sh", 0, term|chld, 0, false) }, want: apiv1.CauseExitedOnStopSignal},
				{after: DefaultSoon, signal: 15, write: func(f fakeProc) {
					f.proc(100, 1, "sh", 0, term|chld, 0, false, 101)
					f.proc(101, 100, "sleep", 0, 0, 0, false)
				}, want: ""},
			},
		},
		{
			name: "Another signal from outside, a reload's SIGHUP, leaves the reads on.",
			steps: []step{
				{after: 0, write: func(f fakeProc) { f.proc(100, 1, "sh", 0, term|chld, 0, false) }, want: apiv1.CauseExitedOnStopSignal},
				{after: DefaultSoon, signal: 1, write: func(f fakeProc) { f.proc(100, 1, "sh", term, chld, 0, false) }, want: apiv1.CauseSignalIgnored},
			},
		},
		{
			name: "A container whose init is gone is not predicted, and a stopped one is read no more.",
			steps: []step{
				{after: 0, write: func(f fakeProc) { f.gone(100) }, want: ""},
				{after: DefaultSoon, write: shNoTrap, stop: true, want: ""},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeProc{t: t, root: t.TempDir()}
			clk := &clock{at: time.Now()}
			var got []*apiv1.Event
			r := New("node-1", func(e *apiv1.Event) { got = append(got, e) }, diagnose.InitReader{Root: f.root, Now: clk.now}, tc.stops, clk.now,
				Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			start := clk.at
			r.ContainerChanged(running(100))
			for i, s := range tc.steps {
				clk.at = start.Add(s.after)
				if s.write != nil {
					s.write(f)
				}
				if s.stop {
					c := running(100)
					c.Stopped = true
					r.ContainerChanged(c)
				}
				if s.signal != 0 {
					r.Observe(&apiv1.Event{Kind: apiv1.KindSignalGenerated, Container: &apiv1.ContainerRef{Id: "c1"},
						Signal: &apiv1.Signal{Number: s.signal}, Target: &apiv1.Task{Pid: 100}, Sender: &apiv1.Sender{Pid: 99, Comm: "runc"}})
				}
				got = nil
				r.Tick(context.Background())
				switch {
				case s.want == "" && len(got) != 0:
					t.Fatalf("step %d: emitted %v, want nothing", i, got)
				case s.want == "":
				case len(got) != 1:
					t.Fatalf("step %d: emitted %d events, want one predicting %s", i, len(got), s.want)
				default:
					e := got[0]
					if e.Kind != apiv1.KindTerminationReadiness || e.GetPrediction().GetCause() != s.want || e.GetContainer().GetName() != "main" || e.GetPod().GetUid() != "u1" || e.Node != "node-1" {
						t.Errorf("step %d: %v, want termination_readiness of main predicting %s", i, e, s.want)
					}
					if len(e.Processes) == 0 || e.Processes[0].GetPid() != 100 || e.GetSignal().GetNumber() == 0 || e.Disposition == "" {
						t.Errorf("step %d: processes %v, signal %v, disposition %q; want the init first, the stop signal and its disposition", i, e.Processes, e.Signal, e.Disposition)
					}
				}
			}
		})
	}
}

func TestTickSaysWhenTheNextReadIsDue(t *testing.T) {
	f := fakeProc{t: t, root: t.TempDir()}
	f.proc(100, 0, "sh", 0, term|chld, 0, false)
	clk := &clock{at: time.Unix(1_000_000, 0)}
	cfg := Config{Interval: time.Minute, Soon: 3 * time.Second}
	r := New("n1", func(*apiv1.Event) {}, diagnose.InitReader{Root: f.root, Now: clk.now}, nil, clk.now, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	start := clk.at
	steps := []struct {
		name    string
		do      func()
		at      time.Time
		wantDue time.Time
	}{
		{"With no container known, no read is due: Run sleeps until one starts.", func() {}, start, time.Time{}},
		{"A container's first read makes its second due Soon after its start.", func() { r.ContainerChanged(running(100)) }, start, start.Add(cfg.Soon)},
		{"Before it is due, nothing is read and the same time is due.", func() {}, start.Add(time.Second), start.Add(cfg.Soon)},
		{"After the second read, the next is an Interval later.", func() {}, start.Add(cfg.Soon), start.Add(cfg.Soon + cfg.Interval)},
		{"A second container's periodic read falling due within a tenth of the interval is made with the first's.", func() {
			f.proc(200, 0, "sh", 0, term|chld, 0, false)
			c := running(200)
			c.ID = "c2"
			r.ContainerChanged(c)
			r.Tick(context.Background())
			clk.at = start.Add(2*cfg.Soon + time.Second)
			r.Tick(context.Background())
		}, start.Add(cfg.Soon + cfg.Interval), start.Add(cfg.Soon + 2*cfg.Interval)},
		{"Stopped containers leave nothing due.", func() {
			r.ContainerChanged(cri.ContainerInfo{ID: "c1", Stopped: true})
			r.ContainerChanged(cri.ContainerInfo{ID: "c2", Stopped: true})
		}, start.Add(cfg.Soon + 2*cfg.Interval), time.Time{}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do()
			clk.at = s.at
			if got := r.Tick(context.Background()); !got.Equal(s.wantDue) {
				t.Errorf("next read due %v, want %v", got, s.wantDue)
			}
		})
	}
}
