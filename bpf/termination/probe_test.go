package termination

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hostMntNS reads the test's own mount namespace: the tests run on the host.
func hostMntNS(t testing.TB) uint32 {
	t.Helper()
	ns, err := MountNamespace(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("!!! SKIPPED: loading BPF programs needs root !!!")
	}
}

// collector gathers the events about a set of pids.
type collector struct {
	mu     sync.Mutex
	events []Event
}

func (c *collector) add(e Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

func (c *collector) find(pid uint32, typ EventType, sig syscall.Signal) *Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.events {
		e := &c.events[i]
		if e.Pid == pid && e.Type == typ && (sig == 0 || e.Signal == sig) {
			cp := *e
			return &cp
		}
	}
	return nil
}

// output joins what a followed CNI plugin wrote to stdout.
func (c *collector) output(pid uint32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []byte
	for _, e := range c.events {
		if e.Pid == pid && e.Type == EventCNIOutput {
			out = append(out, e.Output...)
		}
	}
	return string(out)
}

func startProbe(t *testing.T, cfg Config) *collector {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("load probes: %v", err)
	}
	return runProbe(t, p)
}

// runProbe reads p's events until the test ends, then closes it.
func runProbe(t *testing.T, p *Probe) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx, c.add)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		p.Close()
	})
	return c
}

func waitEvent(t *testing.T, c *collector, pid uint32, typ EventType, sig syscall.Signal) Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if e := c.find(pid, typ, sig); e != nil {
			return *e
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no event type %d signal %v for pid %d", typ, sig, pid)
	return Event{}
}

// TestHostProcessSignals checks the three dispositions of SIGTERM on real
// host processes, with the host filter switched off.
func TestHostProcessSignals(t *testing.T) {
	requireRoot(t)
	c := startProbe(t, Config{HostMntNS: hostMntNS(t), IncludeHost: true, RatePerSec: 100000, Burst: 100000})
	cases := []struct {
		name            string
		script          string
		wantResult      SignalResult
		wantDisposition Disposition // checked only when delivered
		wantDeliver     bool
		deliverSignal   syscall.Signal // what signal_deliver reports
		wantStatus      int32
		wantSignal      syscall.Signal
	}{
		{
			name:       "a process with a SIGTERM handler runs it and exits with its status",
			script:     "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done",
			wantResult: ResultDelivered, wantDeliver: true, deliverSignal: syscall.SIGTERM, wantDisposition: DispositionHandler, wantStatus: 7,
		},
		{
			name:       "a process that ignores SIGTERM keeps running until it ends by itself",
			script:     "trap '' TERM; echo ready; sleep 1; exit 3",
			wantResult: ResultIgnored, wantStatus: 3,
		},
		{
			// A fatal signal with the default action is turned into a group
			// exit when it is sent; the task then dequeues SIGKILL, which is
			// what signal_deliver reports.
			name:       "a process with the default action dies of SIGTERM",
			script:     "echo ready; exec sleep 30",
			wantResult: ResultDelivered, wantDeliver: true, deliverSignal: syscall.SIGKILL, wantDisposition: DispositionDefault, wantSignal: syscall.SIGTERM,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("/bin/busybox", "sh", "-c", tc.script)
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 6)
			if _, err := out.Read(buf); err != nil {
				t.Fatal(err)
			}
			// The default case exec'd sleep after "ready": give exec a moment
			// to replace the shell's disposition table.
			time.Sleep(100 * time.Millisecond)
			pid := uint32(cmd.Process.Pid)
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()

			gen := waitEvent(t, c, pid, EventSignalGenerate, syscall.SIGTERM)
			if gen.Result != tc.wantResult || gen.SenderPid != uint32(os.Getpid()) {
				t.Errorf("signal_generate = result %v sender %d, want %v from %d", gen.Result, gen.SenderPid, tc.wantResult, os.Getpid())
			}
			if tc.wantDeliver {
				del := waitEvent(t, c, pid, EventSignalDeliver, tc.deliverSignal)
				if del.Disposition != tc.wantDisposition {
					t.Errorf("disposition = %v, want %v", del.Disposition, tc.wantDisposition)
				}
			}
			exit := waitEvent(t, c, pid, EventExit, 0)
			if !exit.Leader || exit.ExitStatus != tc.wantStatus || exit.ExitSignal != tc.wantSignal {
				t.Errorf("exit = leader %v status %d signal %v, want status %d signal %v", exit.Leader, exit.ExitStatus, exit.ExitSignal, tc.wantStatus, tc.wantSignal)
			}
		})
	}
}

// TestHostFilter checks that host processes are dropped in the kernel by
// default.
func TestHostFilter(t *testing.T) {
	requireRoot(t)
	c := startProbe(t, Config{HostMntNS: hostMntNS(t), RatePerSec: 1000, Burst: 1000})
	cmd := exec.Command("/bin/busybox", "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	time.Sleep(500 * time.Millisecond)
	if e := c.find(uint32(cmd.Process.Pid), EventSignalGenerate, 0); e != nil {
		t.Errorf("host process event not filtered: %+v", e)
	}
}
