package signals_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/graceline/graceline/bpf/internal/probetest"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/process"
	"github.com/graceline/graceline/bpf/signals"
)

// loopSeconds is how long each case's shell loop forks.
const loopSeconds = 2

// TestWindowFilter runs a shell loop in a mount namespace of its own, as a
// container's, forking a program as fast as it can for loopSeconds and then
// exiting, and counts the exits of its children the kernel lets through.
// Outside a termination window they are sampled (one every 10 s) and the
// rest counted as dropped; in a window, opened by user space or by a stop
// signal from outside, all pass; the shell's own exit passes once user
// space named it an init. Each case forgets the namespace when it ends, and
// the init it named ends with its loop.
func TestWindowFilter(t *testing.T) {
	probetest.RequireRoot(t)
	host := probetest.HostMntNS(t)
	shared := probetest.Open(t, probe.Config{HostMntNS: host, RatePerSec: 1000000, Burst: 1000000})
	_, procs := loadShared(t, shared)
	cases := []struct {
		name string
		// setup runs once the loop is in its namespace.
		setup func(t *testing.T, pid int, ns uint32)
		// wantAll: every child's exit passes; else at most one does.
		wantAll bool
		// wantInitExit: the shell's own exit passes.
		wantInitExit bool
	}{
		{"Outside a window a loop's exits are sampled, and the rest counted.", nil, false, false},
		{"In a window user space opened every exit passes.", func(t *testing.T, _ int, ns uint32) {
			if err := shared.SetWindow(ns, true); err != nil {
				t.Fatal(err)
			}
		}, true, true},
		{"A stop signal from outside to a process that is not an init opens no window.", func(t *testing.T, pid int, _ uint32) {
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}, false, false},
		{"A stop signal from outside to an init opens the window.", func(t *testing.T, pid int, _ uint32) {
			if err := shared.SetInit(uint32(pid), true); err != nil {
				t.Fatal(err)
			}
			// The loop ignores SIGTERM, as a workload with a handler would
			// go on for a while.
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}, true, true},
		{"An init's own exit passes, and opens its window.", func(t *testing.T, pid int, _ uint32) {
			if err := shared.SetInit(uint32(pid), true); err != nil {
				t.Fatal(err)
			}
		}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dropsBefore, seen := outsideWindowDrops(t, shared), len(procs.All())
			// The loop says when its trap is set, and at the end how many
			// rounds it ran: each forks two children.
			script := "trap '' TERM; echo ready; i=0; end=$(($(/bin/busybox date +%s) + " + strconv.Itoa(loopSeconds) + ")); " +
				"while [ $(/bin/busybox date +%s) -lt $end ]; do /bin/busybox true; i=$((i+1)); done; echo $i"
			cmd, _, out, ns := startInNamespace(t, host, script)
			pid := cmd.Process.Pid
			// A namespace's inode is soon reused: forget what the kernel
			// holds about this one, as the agent does when a container is
			// removed.
			defer func() {
				if err := errors.Join(shared.ForgetNamespace(ns), shared.SetInit(uint32(pid), false)); err != nil {
					t.Error(err)
				}
			}()
			if tc.setup != nil {
				tc.setup(t, pid, ns)
			}
			out.Scan()
			rounds, err := strconv.Atoi(out.Text())
			if err := errors.Join(err, cmd.Wait()); err != nil {
				t.Fatalf("loop: %v", err)
			}
			// The exit of the shell, or else of its last child, is the
			// last event; wait for the reader to pass it.
			time.Sleep(500 * time.Millisecond)
			children, initExit := 0, false
			// A namespace inode is soon reused: only this loop's events count.
			for _, e := range procs.All()[seen:] {
				switch {
				case e.Type != process.Exit || e.MntNS != ns:
				case e.Pid == uint32(pid):
					initExit = true
				default:
					children++
				}
			}
			// The drops are counted for every container of the machine,
			// so they are only logged.
			drops := outsideWindowDrops(t, shared) - dropsBefore
			t.Logf("%d rounds: %d children's exits passed, %d dropped on the machine outside a window; the shell's exit passed: %v", rounds, children, drops, initExit)
			// The window opens a few forks into the loop.
			if tc.wantAll && children < 2*rounds-10 {
				t.Errorf("%d exits of the %d children passed, want all", children, 2*rounds)
			}
			if !tc.wantAll && (children > 1 || drops == 0) {
				t.Errorf("%d exits of the %d children passed, %d drops counted; want at most one, and drops counted", children, 2*rounds, drops)
			}
			if initExit != tc.wantInitExit {
				t.Errorf("the shell's exit passed: %v, want %v", initExit, tc.wantInitExit)
			}
		})
	}
}

// startInNamespace runs script in a shell in a mount namespace of its
// own, as a container's, and returns once the script printed "ready" and
// the shell is in the new namespace, with the shell's stdin and stdout.
func startInNamespace(t *testing.T, host uint32, script string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner, uint32) {
	t.Helper()
	cmd := exec.Command("/bin/busybox", "unshare", "-m", "/bin/busybox", "sh", "-c", script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !out.Scan() || out.Text() != "ready" {
		cmd.Process.Kill()
		t.Fatalf("shell did not start: %q %v", out.Text(), out.Err())
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if ns, err := probe.MountNamespace(cmd.Process.Pid); err == nil && ns != host {
			return cmd, stdin, out, ns
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the shell never left the host's mount namespace")
		}
	}
}

// TestHistorySampleComesWithTheNextEvent checks that a history sample,
// which does not wake the reader, reaches it with the next event that
// does. The ring wakes its reader only for a record at the consumer's
// position, so that event has to force the wake-up; else both would wait
// for a third.
//
// Its ring buffer is the smallest allowed, which both groups' programs
// must load with.
func TestHistorySampleComesWithTheNextEvent(t *testing.T) {
	probetest.RequireRoot(t)
	host := probetest.HostMntNS(t)
	shared := probetest.Open(t, probe.Config{HostMntNS: host, RatePerSec: 1000000, Burst: 1000000, RingBytes: probe.MinRingBytes})
	sigs, procs := loadShared(t, shared)
	cmd, stdin, out, ns := startInNamespace(t, host, "trap '' HUP; echo ready; read x; /bin/busybox true; echo done; read x")
	defer cmd.Wait()
	defer stdin.Close()
	pid := cmd.Process.Pid
	// A reused inode's last sample would hold this one back.
	if err := shared.ForgetNamespace(ns); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := shared.ForgetNamespace(ns); err != nil {
			t.Error(err)
		}
	}()
	fmt.Fprintln(stdin)
	if !out.Scan() || out.Text() != "done" {
		t.Fatalf("the child did not run: %q %v", out.Text(), out.Err())
	}
	// The child's exit is the namespace's history sample. A signal from
	// outside, which always passes, brings it along.
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, sigs, uint32(pid), signals.Generate, syscall.SIGHUP)
	procs.Wait(t, "the child's exit", func(e process.Event) bool {
		return e.Type == process.Exit && e.MntNS == ns && e.Pid != uint32(pid)
	})
}

func outsideWindowDrops(t *testing.T, s *probe.Shared) uint64 {
	t.Helper()
	drops, err := s.KernelDrops()
	if err != nil {
		t.Fatal(err)
	}
	return drops[probe.DropOutsideWindow]
}
