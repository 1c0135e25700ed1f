package diagnose

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/graceline/graceline/agent/timeline"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestProcessesReadsTheMasks starts a real shell that ignores SIGTERM and
// catches SIGINT, and reads it as the correlator does at a stop signal.
func TestProcessesReadsTheMasks(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	before := time.Now()
	cmd := exec.Command(sh, "-c", "trap '' TERM; trap 'exit 0' INT; sleep 60 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	pid := int32(cmd.Process.Pid)
	in := &Inspector{Now: time.Now}
	var procs []*apiv1.Process
	// The shell sets its traps just after it starts.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		procs, _ = in.Processes(timeline.SubjectContainer{ID: "c1", Pid: pid})
		if len(procs) == 1 && apiv1.InSignalSet(procs[0].SigCaught, int32(syscall.SIGINT)) || time.Now().After(deadline) {
			break
		}
	}
	if len(procs) != 1 {
		t.Fatalf("read %v, want the shell alone (it has no cgroup to list)", procs)
	}
	p := procs[0]
	if p.Pid != pid || p.Ppid != int32(os.Getpid()) || p.State == "" {
		t.Errorf("read %v, want pid %d, whose parent is the test (%d), with its state", p, pid, os.Getpid())
	}
	if !slices.Contains(p.SigIgnored, "SIGTERM") || !slices.Contains(p.SigCaught, "SIGINT") || slices.Contains(p.SigCaught, "SIGTERM") {
		t.Errorf("ignored %v caught %v, want SIGTERM ignored and SIGINT caught", p.SigIgnored, p.SigCaught)
	}
	// /proc dates a start to the 10 ms tick.
	if st := p.GetStarted().AsTime(); st.Before(before.Add(-time.Second)) || st.After(time.Now()) {
		t.Errorf("started %v, want between %v and now", st, before)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if procs, frozen := in.Processes(timeline.SubjectContainer{ID: "c1", Pid: pid}); len(procs) != 0 || frozen {
		t.Errorf("read %v (frozen %v) of a process gone, want nothing", procs, frozen)
	}
}
