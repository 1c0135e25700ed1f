package probe_test

import (
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/graceline/graceline/bpf/cgroup"
	"github.com/graceline/graceline/bpf/cni"
	"github.com/graceline/graceline/bpf/internal/probetest"
	"github.com/graceline/graceline/bpf/oom"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/process"
	"github.com/graceline/graceline/bpf/signals"
)

// BenchmarkOverhead measures what the attached probes of every group cost host workloads
// that they see but filter out in the kernel (the common case on a node):
// a fork/exec/exit loop, a kill loop, and a write loop (every write(2) runs
// the CNI stdout probe, which returns at once while no CNI plugin runs). Each round is timed in CPU time
// (user + system, children included), where the programs' cost lands, so
// that other load on the machine does not count. Each round times the loop
// three ways: with no programs (the baseline), with empty programs on the
// same tracepoints (the floor: what any attached program costs on this
// kernel and machine, mitigations included), and with graceline's
// programs. The cheapest round of each is compared, and x-floor is
// graceline's extra time over the baseline divided by the empty programs'
// extra time, so that a noisy or mitigation-heavy machine does not move the
// ratio as it moves the raw numbers. Run it with -benchtime=1x.
func BenchmarkOverhead(b *testing.B) {
	probetest.RequireRoot(b)
	signal.Ignore(syscall.SIGHUP)
	defer signal.Reset(syscall.SIGHUP)
	self := os.Getpid()
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	buf := make([]byte, 64)
	// The kill loop gets the most rounds: its x-floor is the goal, and the
	// difference of two small extras needs more samples to find the quiet
	// ones on a shared machine.
	workloads := []struct {
		name   string
		iters  int
		rounds int
		run    func() error
	}{
		{"fork_exec_exit", 1500, 5, func() error { return exec.Command("/bin/true").Run() }},
		{"kill", 200000, 15, func() error { return syscall.Kill(self, syscall.SIGHUP) }},
		{"write", 1000000, 5, func() error { _, err := syscall.Write(int(devNull.Fd()), buf); return err }},
	}
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			var off, empty, on []time.Duration
			for range w.rounds {
				off = append(off, timeLoop(b, w.iters, w.run))
				closeEmpty := loadEmpty(b)
				empty = append(empty, timeLoop(b, w.iters, w.run))
				closeEmpty()
				closeAll := loadAll(b)
				on = append(on, timeLoop(b, w.iters, w.run))
				closeAll()
			}
			base, floor, probed := slices.Min(off), slices.Min(empty), slices.Min(on)
			perOp := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(w.iters) }
			b.ReportMetric(perOp(base), "ns/op-without")
			b.ReportMetric(perOp(floor), "ns/op-empty")
			b.ReportMetric(perOp(probed), "ns/op-with")
			b.ReportMetric(100*(float64(probed)/float64(base)-1), "%overhead")
			// A loop whose floor is lost in the noise has no meaningful
			// ratio; fork_exec_exit is such a loop here.
			if floor > base {
				b.ReportMetric(float64(probed-base)/float64(floor-base), "x-floor")
			}
		})
	}
}

func timeLoop(b *testing.B, n int, f func() error) time.Duration {
	start := cpuTime()
	for range n {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	return cpuTime() - start
}

// cpuTime is the CPU time used so far by this process and its waited-for
// children.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		syscall.Getrusage(who, &ru)
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total
}

// loadAll loads every probe group as the agent does, with the CNI stdout
// probe on, and returns what unloads them.
func loadAll(b *testing.B) func() {
	shared, err := probe.Open(probe.Config{HostMntNS: probetest.HostMntNS(b), RatePerSec: 1000, Burst: 2000})
	if err != nil {
		b.Fatal(err)
	}
	closers := []func() error{shared.Close}
	add := func(c interface{ Close() error }, err error) {
		if err != nil {
			b.Fatal(err)
		}
		closers = append(closers, c.Close)
	}
	sig, err := signals.New(shared, signals.Config{})
	add(sig, err)
	proc, err := process.New(shared)
	add(proc, err)
	c, err := cni.New(shared, cni.Config{Output: true})
	add(c, err)
	cg, err := cgroup.New(shared)
	add(cg, err)
	o, err := oom.New(shared)
	add(o, err)
	return func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
}

// graceTracepoints are the raw tracepoints loadAll attaches to, once per
// program, so that the floor runs as many programs on each as graceline
// does.
var graceTracepoints = []string{
	"signal_generate", "signal_deliver", // bpf/signals
	"sched_process_exit", "sched_process_exec", // bpf/process
	"sched_process_exec", "sched_process_exit", "sys_enter", // bpf/cni, with its stdout probe
	"cgroup_rmdir", // bpf/cgroup
	"mark_victim",  // bpf/oom
}

// loadEmpty attaches a program that returns 0 at once to each of
// graceTracepoints, and returns what detaches them. The programs are built
// here with the asm package rather than compiled, so the floor has no
// generated object to keep in step.
func loadEmpty(b *testing.B) func() {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "empty",
		Type:         ebpf.RawTracepoint,
		License:      "Dual MIT/GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		b.Fatalf("load empty program: %v", err)
	}
	closers := []func() error{prog.Close}
	for _, name := range graceTracepoints {
		l, err := probe.Attach(name, prog)
		if err != nil {
			b.Fatal(err)
		}
		closers = append(closers, l.Close)
	}
	return func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
}
