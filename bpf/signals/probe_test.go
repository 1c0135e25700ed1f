package signals_test

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/graceline/graceline/bpf/internal/probetest"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/process"
	"github.com/graceline/graceline/bpf/signals"
)

// load loads the signal and process groups and reads their events until
// the test ends.
func load(t *testing.T, cfg probe.Config) (*probetest.Collector[signals.Event], *probetest.Collector[process.Event]) {
	t.Helper()
	return loadShared(t, probetest.Open(t, cfg))
}

// loadShared loads the signal and process groups into shared.
func loadShared(t *testing.T, shared *probe.Shared) (*probetest.Collector[signals.Event], *probetest.Collector[process.Event]) {
	t.Helper()
	sig, err := signals.New(shared, signals.Config{})
	if err != nil {
		t.Fatalf("load signal probes: %v", err)
	}
	t.Cleanup(func() { sig.Close() })
	proc, err := process.New(shared)
	if err != nil {
		t.Fatalf("load process probes: %v", err)
	}
	t.Cleanup(func() { proc.Close() })
	sigs, procs := &probetest.Collector[signals.Event]{}, &probetest.Collector[process.Event]{}
	probetest.Run(t, shared, sig.Events(sigs.Add), proc.Events(procs.Add))
	return sigs, procs
}

// waitSignal waits for the signal event of this type and signal about pid.
func waitSignal(t *testing.T, sigs *probetest.Collector[signals.Event], pid uint32, typ signals.Type, sig syscall.Signal) signals.Event {
	t.Helper()
	return sigs.Wait(t, fmt.Sprintf("signal %d type %d for pid %d", sig, typ, pid), func(e signals.Event) bool {
		return e.Pid == pid && e.Type == typ && e.Signal == sig
	})
}

// TestHostProcessSignals checks the three dispositions of SIGTERM on real
// host processes, with the host filter switched off.
func TestHostProcessSignals(t *testing.T) {
	probetest.RequireRoot(t)
	sigs, procs := load(t, probe.Config{HostMntNS: probetest.HostMntNS(t), IncludeHost: true, RatePerSec: 100000, Burst: 100000})
	cases := []struct {
		name            string
		script          string
		wantResult      signals.Result
		wantDisposition signals.Disposition // checked only when delivered
		wantDeliver     bool
		deliverSignal   syscall.Signal // what signal_deliver reports
		wantStatus      int32
		wantSignal      syscall.Signal
	}{
		{
			name:       "a process with a SIGTERM handler runs it and exits with its status",
			script:     "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done",
			wantResult: signals.ResultDelivered, wantDeliver: true, deliverSignal: syscall.SIGTERM, wantDisposition: signals.DispositionHandler, wantStatus: 7,
		},
		{
			name:       "a process that ignores SIGTERM keeps running until it ends by itself",
			script:     "trap '' TERM; echo ready; sleep 1; exit 3",
			wantResult: signals.ResultIgnored, wantStatus: 3,
		},
		{
			// A fatal signal with the default action is turned into a group
			// exit when it is sent; the task then dequeues SIGKILL, which is
			// what signal_deliver reports.
			name:       "a process with the default action dies of SIGTERM",
			script:     "echo ready; exec sleep 30",
			wantResult: signals.ResultDelivered, wantDeliver: true, deliverSignal: syscall.SIGKILL, wantDisposition: signals.DispositionDefault, wantSignal: syscall.SIGTERM,
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

			gen := waitSignal(t, sigs, pid, signals.Generate, syscall.SIGTERM)
			if gen.Result != tc.wantResult || gen.SenderPid != uint32(os.Getpid()) {
				t.Errorf("signal_generate = result %v sender %d, want %v from %d", gen.Result, gen.SenderPid, tc.wantResult, os.Getpid())
			}
			if tc.wantDeliver {
				del := waitSignal(t, sigs, pid, signals.Deliver, tc.deliverSignal)
				if del.Disposition != tc.wantDisposition {
					t.Errorf("disposition = %v, want %v", del.Disposition, tc.wantDisposition)
				}
			}
			exit := procs.Wait(t, fmt.Sprintf("exit of pid %d", pid), func(e process.Event) bool { return e.Pid == pid && e.Type == process.Exit })
			if !exit.Leader || exit.ExitStatus != tc.wantStatus || exit.ExitSignal != tc.wantSignal {
				t.Errorf("exit = leader %v status %d signal %v, want status %d signal %v", exit.Leader, exit.ExitStatus, exit.ExitSignal, tc.wantStatus, tc.wantSignal)
			}
		})
	}
}

// TestHostFilter checks that host processes are dropped in the kernel by
// default.
func TestHostFilter(t *testing.T) {
	probetest.RequireRoot(t)
	sigs, _ := load(t, probe.Config{HostMntNS: probetest.HostMntNS(t), RatePerSec: 1000, Burst: 1000})
	cmd := exec.Command("/bin/busybox", "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	time.Sleep(500 * time.Millisecond)
	pid := uint32(cmd.Process.Pid)
	if e, found := sigs.Find(func(e signals.Event) bool { return e.Pid == pid && e.Type == signals.Generate }); found {
		t.Errorf("host process event not filtered: %+v", e)
	}
}

// TestTargetMountNamespace checks that a signal's target and sender carry
// their own mount namespace's inode, both for tasks that share the kernel's
// initial namespaces (read through the init_nsproxy shortcut) and for a
// task in a namespace of its own (read by the full pointer chase).
func TestTargetMountNamespace(t *testing.T) {
	probetest.RequireRoot(t)
	host := probetest.HostMntNS(t)
	sigs, _ := load(t, probe.Config{HostMntNS: host, IncludeHost: true, RatePerSec: 100000, Burst: 100000})
	cases := []struct {
		name   string
		args   []string
		ownMnt bool // whether the target ends up outside the host's namespace
	}{
		{"a host process is in the host's mount namespace", []string{"sleep", "30"}, false},
		{"a process that unshared its mount namespace is in its own", []string{"unshare", "-m", "/bin/busybox", "sleep", "30"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("/bin/busybox", tc.args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			pid := cmd.Process.Pid
			want := host
			deadline := time.Now().Add(5 * time.Second)
			for tc.ownMnt && want == host {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the process never left the host's mount namespace")
				}
				time.Sleep(10 * time.Millisecond)
				if ns, err := probe.MountNamespace(pid); err == nil {
					want = ns
				}
			}
			cmd.Process.Signal(syscall.SIGTERM)
			e := waitSignal(t, sigs, uint32(pid), signals.Generate, syscall.SIGTERM)
			if e.MntNS != want {
				t.Errorf("target mount namespace %d, want %d (host %d)", e.MntNS, want, host)
			}
			if e.SenderMntNS != host {
				t.Errorf("sender mount namespace %d, want the host's %d", e.SenderMntNS, host)
			}
		})
	}
}
