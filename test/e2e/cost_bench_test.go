package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// costPods is how many pods one round deletes at once.
const costPods = 20

// BenchmarkPodTerminationCPU measures the agent's own CPU time per pod
// termination on containerd 2.x: costPods pods, each forking a sleep every
// second, are deleted at once, as fast as the runtime goes, and the agent's
// user and system time is read from /proc from the first deletion until
// the last pod's termination_summary. The agent's idle cost with the same
// pods running is measured first, over as long a time, and reported apart:
// net is what the terminations themselves cost.
func BenchmarkPodTerminationCPU(b *testing.B) {
	c, d := startRuntime(b, harness.Containerd2)
	agent := startAgent(b, "--cri-endpoint", c.Endpoint())
	agent.waitLog(b, 30*time.Second, "msg=sources")
	var gross, net, rate float64
	for round := range b.N {
		g, n, r := terminationRound(b, d, agent, fmt.Sprintf("cost%d", round))
		gross, net, rate = gross+g, net+n, rate+r
	}
	b.ReportMetric(gross/float64(b.N), "cpu-ms/termination")
	b.ReportMetric(net/float64(b.N), "net-cpu-ms/termination")
	b.ReportMetric(rate/float64(b.N), "terminations/s")
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average: %s", strings.TrimSpace(string(load)))
	}
}

// idleWindow is how long the agent's idle cost is measured, with the pods
// running, before they are deleted: long enough for /proc's 10 ms ticks.
const idleWindow = 5 * time.Second

// terminationRound runs costPods pods, measures the agent idle beside them
// and then through their deletion, and returns the CPU milliseconds per
// termination (gross, and net of the idle cost over as long) and the
// deletions' rate.
func terminationRound(b *testing.B, d *harness.Driver, agent *agentProc, prefix string) (gross, net, rate float64) {
	ctx := context.Background()
	pods := make([]*harness.Pod, costPods)
	specs := make([]harness.PodSpec, costPods)
	for i := range pods {
		specs[i] = newSpec(fmt.Sprintf("%s-%d", prefix, i), 5, harness.ContainerSpec{Name: "main", Command: shell("trap 'exit 0' TERM; while :; do sleep 1; done")})
		var err error
		if pods[i], err = d.RunPod(ctx, specs[i]); err != nil {
			b.Fatal(err)
		}
	}
	for _, s := range specs {
		waitStarted(b, agent, s)
	}

	idleFrom := cpuTime(b, agent.Pid())
	time.Sleep(idleWindow)
	start, cpuFrom := time.Now(), cpuTime(b, agent.Pid())
	idlePerSecond := (cpuFrom - idleFrom).Seconds() / idleWindow.Seconds()

	var wg sync.WaitGroup
	errs := make(chan error, len(pods))
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.DeletePod(ctx, p)
		}()
	}
	wg.Wait()
	deleting := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	// The window ends with the last summary, which waits for
	// --summary-settle after the pod's removal: the agent's checks during
	// the settle are part of what a termination costs.
	for _, s := range specs {
		waitFor(b, 60*time.Second, s.Name+" termination_summary", func() bool { return hasKind(agent.forPod(s.UID), apiv1.KindTerminationSummary) })
	}
	window := time.Since(start)
	used := (cpuTime(b, agent.Pid()) - cpuFrom).Seconds()
	gross = used * 1000 / costPods
	net = (used - idlePerSecond*window.Seconds()) * 1000 / costPods
	b.Logf("%d pods deleted in %s, summaries after %s; agent CPU %.0f ms in all, idle %.1f ms/s", costPods, deleting.Round(time.Millisecond), window.Round(time.Millisecond), used*1000, idlePerSecond*1000)
	return gross, net, costPods / deleting.Seconds()
}

// clockTick is the unit of /proc/<pid>/stat's times: USER_HZ, 100 on Linux.
const clockTick = 10 * time.Millisecond

// cpuTime reads a process's user and system time, all threads together.
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after comm, which may hold spaces, start after the last ')':
	// state is the first of them, utime the 12th and stime the 13th.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("parse /proc/%d/stat: %q", pid, s)
	}
	return time.Duration(utime+stime) * clockTick
}
