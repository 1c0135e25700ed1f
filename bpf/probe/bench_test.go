package probe_test

import (
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/graceline/graceline/bpf/cgroup"
	"github.com/graceline/graceline/bpf/cni"
	"github.com/graceline/graceline/bpf/internal/probetest"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/process"
	"github.com/graceline/graceline/bpf/signals"
)

// BenchmarkOverhead measures what the attached probes of every group cost host workloads
// that they see but filter out in the kernel (the common case on a node):
// a fork/exec/exit loop, a kill loop, and a write loop (every write(2) runs
// the CNI stdout probe, which returns at once while no CNI plugin runs). Each round is timed in CPU time
// (user + system, children included), where the programs' cost lands, so
// that other load on the machine does not count. Rounds with and without the
// probes alternate, and the cheapest round of each is compared. Run it with
// -benchtime=1x.
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
	workloads := []struct {
		name  string
		iters int
		run   func() error
	}{
		{"fork_exec_exit", 1500, func() error { return exec.Command("/bin/true").Run() }},
		{"kill", 300000, func() error { return syscall.Kill(self, syscall.SIGHUP) }},
		{"write", 1000000, func() error { _, err := syscall.Write(int(devNull.Fd()), buf); return err }},
	}
	const rounds = 5
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			var off, on []time.Duration
			for range rounds {
				off = append(off, timeLoop(b, w.iters, w.run))
				closeAll := loadAll(b)
				on = append(on, timeLoop(b, w.iters, w.run))
				closeAll()
			}
			base, probed := slices.Min(off), slices.Min(on)
			b.ReportMetric(float64(base.Nanoseconds())/float64(w.iters), "ns/op-without")
			b.ReportMetric(float64(probed.Nanoseconds())/float64(w.iters), "ns/op-with")
			b.ReportMetric(100*(float64(probed)/float64(base)-1), "%overhead")
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
	return func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
}
