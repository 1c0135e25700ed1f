package oom_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/graceline/graceline/bpf/internal/probetest"
	"github.com/graceline/graceline/bpf/oom"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/signals"
)

// memoryCgroup creates a memory cgroup limited to limit bytes, removed when
// the test ends: on cgroup v2 where it has the memory controller, else in
// the v1 memory hierarchy.
func memoryCgroup(t *testing.T, limit int) string {
	t.Helper()
	name := fmt.Sprintf("graceline-oom-test-%d", os.Getpid())
	v2 := "/sys/fs/cgroup"
	var dir, limitFile string
	if b, err := os.ReadFile(filepath.Join(v2, "cgroup.controllers")); err == nil && slices.Contains(strings.Fields(string(b)), "memory") {
		dir, limitFile = filepath.Join(v2, name), "memory.max"
	} else if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		dir, limitFile = filepath.Join("/sys/fs/cgroup/memory", name), "memory.limit_in_bytes"
	} else {
		t.Fatal("no memory cgroup controller found")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	if err := os.WriteFile(filepath.Join(dir, limitFile), []byte(fmt.Sprint(limit)), 0); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOOMKillIsTheKernels runs a process that allocates without end in a
// memory cgroup with a small limit, and checks what the probes show of its
// OOM kill: the SIGKILL is marked as the kernel's although it was sent
// from the allocating task's context, and the victim is reported after it,
// with the task that ran the killer.
func TestOOMKillIsTheKernels(t *testing.T) {
	probetest.RequireRoot(t)
	shared := probetest.Open(t, probe.Config{HostMntNS: probetest.HostMntNS(t), IncludeHost: true, RatePerSec: 100000, Burst: 100000})
	sig, err := signals.New(shared, signals.Config{})
	if err != nil {
		t.Fatalf("load signal probes: %v", err)
	}
	t.Cleanup(func() { sig.Close() })
	op, err := oom.New(shared)
	if err != nil {
		t.Fatalf("load oom probe: %v", err)
	}
	t.Cleanup(func() { op.Close() })
	// seen keeps both groups' events in the one order the reader saw them.
	type seen struct {
		sig    *signals.Event
		victim *oom.Event
	}
	events := &probetest.Collector[seen]{}
	probetest.Run(t, shared,
		sig.Events(func(e signals.Event) { events.Add(seen{sig: &e}) }),
		op.Events(func(e oom.Event) { events.Add(seen{victim: &e}) }))

	dir := memoryCgroup(t, 16<<20)
	// The shell moves itself into the cgroup, then becomes tail, which
	// keeps /dev/zero's one endless line in memory until the limit.
	cmd := exec.Command("sh", "-c", `echo $$ > "$1/cgroup.procs" && exec tail /dev/zero`, "sh", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("tail ended with %v, want killed by SIGKILL", err)
	}
	pid := uint32(cmd.Process.Pid)

	victim := events.Wait(t, "the OOM victim", func(e seen) bool { return e.victim != nil && e.victim.Pid == pid })
	if victim.victim.Comm != "tail" || victim.victim.TriggerPid == 0 {
		t.Errorf("victim %+v, want tail with the task that ran the killer", *victim.victim)
	}
	all := events.All()
	kill := slices.IndexFunc(all, func(e seen) bool {
		return e.sig != nil && e.sig.Type == signals.Generate && e.sig.Signal == syscall.SIGKILL && e.sig.Pid == pid
	})
	at := slices.IndexFunc(all, func(e seen) bool { return e.victim != nil && e.victim.Pid == pid })
	switch {
	case kill < 0:
		t.Fatal("no SIGKILL generated for the victim")
	case !all[kill].sig.SenderIsKernel:
		t.Errorf("SIGKILL %+v not marked as the kernel's", *all[kill].sig)
	case kill > at:
		t.Errorf("the victim was reported before its SIGKILL (%d > %d)", kill, at)
	}
	if s := all[kill].sig; s.SenderPid != victim.victim.TriggerPid {
		t.Errorf("SIGKILL sent from pid %d, the killer ran in %d", s.SenderPid, victim.victim.TriggerPid)
	}

	t.Run("a signal a process sends is not marked as the kernel's", func(t *testing.T) {
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		c.Process.Signal(syscall.SIGTERM)
		c.Wait()
		e := events.Wait(t, "SIGTERM to sleep", func(e seen) bool {
			return e.sig != nil && e.sig.Type == signals.Generate && e.sig.Pid == uint32(c.Process.Pid) && e.sig.Signal == syscall.SIGTERM
		})
		if e.sig.SenderIsKernel {
			t.Errorf("kill(2)'s SIGTERM marked as the kernel's: %+v", *e.sig)
		}
	})
}
