package diagnose

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// startShellInit starts what a container's init often is: a shell that
// ignores SIGTERM and waits on two background sleeps. It returns its pid
// once both children run sleep.
func startShellInit(tb testing.TB) int32 {
	tb.Helper()
	cmd := exec.Command("/bin/sh", "-c", "trap '' TERM; sleep 3600 & sleep 3600 & wait")
	// Its own process group, so that the sleeps die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	pid := int32(cmd.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		init, children, err := (InitReader{}).ReadInit(pid)
		if err == nil && len(children) == 2 && children[0].GetComm() == "sleep" && children[1].GetComm() == "sleep" &&
			apiv1.InSignalSet(init.GetSigIgnored(), int32(syscall.SIGTERM)) {
			return pid
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the shell (pid %d) did not ignore SIGTERM and fork two children within 10s: %v, %v, %v", pid, init, children, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReadInitReadsTheInitAndItsChildren(t *testing.T) {
	pid := startShellInit(t)
	init, children, err := (InitReader{Now: time.Now}).ReadInit(pid)
	if err != nil {
		t.Fatal(err)
	}
	if init.GetPid() != pid || init.GetComm() != "sh" || init.GetStarted() == nil || init.GetNsPid() != pid {
		t.Errorf("init %v, want sh (pid %d, the same in the host's PID namespace) with its start", init, pid)
	}
	for _, c := range children {
		if c.GetComm() != "sleep" || !apiv1.InSignalSet(c.GetSigIgnored(), int32(syscall.SIGINT)) {
			t.Errorf("child %v, want a background sleep with SIGINT ignored", c)
		}
	}
}

func TestReadInitTellsAPIDNamespacesInit(t *testing.T) {
	for _, tc := range []struct {
		name string
		// clone is the new process's namespaces; 0 leaves it in the host's.
		clone       uintptr
		wantNsPidIs func(pid int32) int32
	}{
		{"A process of a PID namespace of its own is its pid 1.", syscall.CLONE_NEWPID, func(int32) int32 { return 1 }},
		{"A process of the host's PID namespace has its own pid there.", 0, func(pid int32) int32 { return pid }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("/bin/sleep", "3600")
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: tc.clone}
			if err := cmd.Start(); err != nil {
				t.Skipf("LOUD SKIP: cannot start a process in a new PID namespace here: %v", err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			pid := int32(cmd.Process.Pid)
			init, _, err := (InitReader{Now: time.Now}).ReadInit(pid)
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.wantNsPidIs(pid); init.GetNsPid() != want {
				t.Errorf("ns_pid %d, want %d", init.GetNsPid(), want)
			}
		})
	}
}

// BenchmarkReadInit measures one readiness read of a shell init with two
// children from the real /proc, and what reading 100 containers once a
// minute (the default --readiness-interval) costs a core.
func BenchmarkReadInit(b *testing.B) {
	pid := startShellInit(b)
	r := InitReader{Now: time.Now}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, _, err := r.ReadInit(pid); err != nil {
			b.Fatal(err)
		}
	}
	perRead := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(100*perRead)/float64(time.Minute)*100, "%core-100ctr/min")
}
