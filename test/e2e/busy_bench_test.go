package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// busyPods is how many pods the busy node runs, each forking a sleep every
// second.
const busyPods = 100

// busyIdleWindow is how long the busy node is watched idle: long enough
// for /proc's 10 ms ticks and for a steady event rate.
const busyIdleWindow = 30 * time.Second

// busyDeletionProfile is how long the deletion's CPU profile runs: most
// of the window from the first delete to the last summary (the agent stops
// with the window, which ends a profile still running).
const busyDeletionProfile = 25 * time.Second

// busyDeletionTrace is how long the deletion's execution trace runs, from
// busyDeletionTraceAfter into the deletion, when the runtime stops pods
// at its steady pace.
const (
	busyDeletionTrace      = 10 * time.Second
	busyDeletionTraceAfter = 20 * time.Second
)

// BenchmarkBusyNode runs the agent as a node runs it (spool and sender to a
// real collector, no JSON output) beside busyPods pods on containerd 2.x,
// each running a shell loop that forks a sleep every second, and reports:
//   - idle: the events the agent emits per second and its share of a core
//     while nothing terminates, and its RSS;
//   - a 1,000,000-signal storm in one more pod: the agent's peak RSS;
//   - the deletion of all the pods at once, as fast as the runtime goes:
//     the agent's CPU time per termination, from the first deletion to the
//     last termination_summary, gross and net of the idle cost over as
//     long, the rate of deletions, the events per termination, and the
//     peak RSS.
func BenchmarkBusyNode(b *testing.B) {
	for round := range b.N {
		busyRound(b, fmt.Sprintf("busy%d", round))
	}
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average: %s", strings.TrimSpace(string(load)))
	}
}

func busyRound(b *testing.B, prefix string) {
	ctx := context.Background()
	c, d := startRuntime(b, harness.Containerd2)
	addr, tokens := startCollector(b)
	metrics := freeAddr(b)
	args := []string{"--cri-endpoint", c.Endpoint(), "--output", "none", "--metrics-address", metrics,
		"--collector", addr, "--token-file", tokens, "--spool-dir", filepath.Join(b.TempDir(), "spool")}
	// GRACELINE_BENCH_AGENT_ARGS adds flags to the agent's, to compare
	// settings (--gomaxprocs=0 against the default, say) run by run.
	args = append(args, strings.Fields(os.Getenv("GRACELINE_BENCH_AGENT_ARGS"))...)
	profiles := os.Getenv("GRACELINE_BENCH_PROFILES")
	// GRACELINE_BENCH_TRACE, a directory, takes an execution trace of
	// busyDeletionTrace in the deletion: it shows what wakes the agent.
	traces := os.Getenv("GRACELINE_BENCH_TRACE")
	if profiles != "" || traces != "" {
		args = append(args, "--pprof")
	}
	agent := startAgent(b, args...)
	agent.waitLog(b, 30*time.Second, "msg=sources")
	read := func() agentCounters { return readCounters(b, metrics) }

	pods := make([]*harness.Pod, busyPods)
	for i := range pods {
		spec := newSpec(fmt.Sprintf("%s-%d", prefix, i), 5, harness.ContainerSpec{Name: "main", Command: shell("trap 'exit 0' TERM; while :; do sleep 1; done")})
		var err error
		if pods[i], err = d.RunPod(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, 2*time.Minute, "every pod's container_started", func() bool { return read().kinds[apiv1.KindContainerStarted] >= busyPods })
	// Let the start-ups' own events (held signal rows, histories) settle
	// before the idle window.
	time.Sleep(5 * time.Second)

	before, cpuBefore, switchesBefore := read(), cpuTime(b, agent.Pid()), contextSwitches(b, agent.Pid())
	if profiles != "" {
		go saveProfile(b, metrics, busyIdleWindow, filepath.Join(profiles, prefix+"-idle.pprof"))
	}
	time.Sleep(busyIdleWindow)
	after, cpuAfter, switchesAfter := read(), cpuTime(b, agent.Pid()), contextSwitches(b, agent.Pid())
	idleEvents := float64(after.total-before.total) / busyIdleWindow.Seconds()
	idleCPU := (cpuAfter - cpuBefore).Seconds() / busyIdleWindow.Seconds()
	idleRSS := rssKiB(b, agent.Pid())
	b.ReportMetric(idleEvents, "idle-events/s")
	b.ReportMetric(idleCPU*100, "idle-%core")
	b.ReportMetric(float64(idleRSS)/1024, "idle-rss-MiB")
	idleSwitches := float64(switchesAfter-switchesBefore) / busyIdleWindow.Seconds()
	b.ReportMetric(idleSwitches, "idle-switches/s")
	b.Logf("idle with %d forking pods for %s: %d events (%s), agent CPU %s, %.1f context switches/s, RSS %d KiB (%s)",
		busyPods, busyIdleWindow, after.total-before.total, after.sub(before), cpuAfter-cpuBefore, idleSwitches, idleRSS, rssParts(agent.Pid()))

	storm := newSpec(prefix+"-storm", 2, harness.ContainerSpec{Name: "main", Command: []string{"/bin/storm", "-n", "1000000"}})
	stormPod, err := d.RunPod(ctx, storm)
	if err != nil {
		b.Fatal(err)
	}
	var stormRSS rssPeak
	waitFor(b, 3*time.Minute, "the storm's end", func() bool {
		stormRSS.sample(b, agent.Pid())
		return stormDone(b, stormPod)
	})
	stormRSS.sample(b, agent.Pid())
	b.ReportMetric(float64(stormRSS.kib)/1024, "storm-rss-MiB")
	b.Logf("storm: peak RSS %d KiB (%s)", stormRSS.kib, stormRSS.parts)
	if err := d.DeletePod(ctx, stormPod); err != nil {
		b.Fatal(err)
	}
	waitFor(b, time.Minute, "the storm pod's summary", func() bool { return read().kinds[apiv1.KindTerminationSummary] >= 1 })

	before, cpuBefore, switchesBefore = read(), cpuTime(b, agent.Pid()), contextSwitches(b, agent.Pid())
	if profiles != "" {
		go saveProfile(b, metrics, busyDeletionProfile, filepath.Join(profiles, prefix+"-deletion.pprof"))
	}
	if traces != "" {
		go func() {
			time.Sleep(busyDeletionTraceAfter)
			saveDebug(b, metrics, "trace", busyDeletionTrace, filepath.Join(traces, prefix+"-deletion.trace"))
		}()
	}
	// GRACELINE_BENCH_DELETE_EVERY, a duration, deletes the pods one at a
	// time at that pace, as a rollout does, instead of all at once.
	var every time.Duration
	if v := os.Getenv("GRACELINE_BENCH_DELETE_EVERY"); v != "" {
		var err error
		if every, err = time.ParseDuration(v); err != nil {
			b.Fatalf("GRACELINE_BENCH_DELETE_EVERY: %v", err)
		}
	}
	start := time.Now()
	deleted := deleteEvery(ctx, d, pods, every)
	var peakRSS rssPeak
	for done := false; !done; {
		peakRSS.sample(b, agent.Pid())
		select {
		case err := <-deleted:
			if err != nil {
				b.Fatal(err)
			}
			done = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	deleting := time.Since(start)
	// The window ends with the last summary, which waits for
	// --summary-settle after the pod's removal: the agent's checks during
	// the settle are part of what a termination costs.
	waitFor(b, 2*time.Minute, "every pod's termination_summary", func() bool {
		peakRSS.sample(b, agent.Pid())
		return read().kinds[apiv1.KindTerminationSummary]-before.kinds[apiv1.KindTerminationSummary] >= busyPods
	})
	window := time.Since(start)
	after, used := read(), (cpuTime(b, agent.Pid()) - cpuBefore).Seconds()
	deletionSwitches := float64(contextSwitches(b, agent.Pid())-switchesBefore) / window.Seconds()
	b.ReportMetric(deletionSwitches, "deletion-switches/s")
	gross := used * 1000 / busyPods
	net := (used - idleCPU*window.Seconds()) * 1000 / busyPods
	perTermination := (float64(after.total-before.total) - idleEvents*window.Seconds()) / busyPods
	b.ReportMetric(gross, "cpu-ms/termination")
	b.ReportMetric(net, "net-cpu-ms/termination")
	b.ReportMetric(busyPods/deleting.Seconds(), "terminations/s")
	b.ReportMetric(perTermination, "events/termination")
	b.ReportMetric(float64(peakRSS.kib)/1024, "deletion-rss-MiB")
	if n := after.kinds[apiv1.KindStuck] - before.kinds[apiv1.KindStuck]; n > 0 {
		// A stuck report about a deletion that ends within its grace
		// period is a false alarm: show one.
		out, err := cli(b, addr, "list", "-A", "--limit", "1000")
		b.Logf("%d stuck reports; list: %v", n, err)
		if lines := strings.Split(out, "\n"); len(lines) > 1 {
			if f := strings.Fields(lines[1]); len(f) > 2 {
				tl, err := cli(b, addr, "timeline", "--all", "-n", f[0], f[1])
				b.Logf("timeline of %s: %v\n%s", f[1], err, tl)
			}
		}
	}
	b.Logf("%d pods deleted in %s, summaries after %s; agent CPU %.0f ms in all; %d events (%s); peak RSS %d KiB (%s)",
		busyPods, deleting.Round(time.Millisecond), window.Round(time.Millisecond), used*1000, after.total-before.total, after.sub(before), peakRSS.kib, peakRSS.parts)
}

// saveProfile writes the agent's CPU profile over the next d to path: set
// GRACELINE_BENCH_PROFILES to a directory to take them.
func saveProfile(b testing.TB, metrics string, d time.Duration, path string) {
	saveDebug(b, metrics, "profile", d, path)
}

// saveDebug writes what /debug/pprof/<kind> serves over the next d to path:
// a CPU profile, or an execution trace.
func saveDebug(b testing.TB, metrics, kind string, d time.Duration, path string) {
	c := http.Client{Timeout: d + 30*time.Second}
	resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", metrics, kind, int(d.Seconds())))
	if err != nil {
		b.Logf("profile %s: %v", path, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err == nil {
		_, err = io.Copy(f, resp.Body)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		b.Logf("profile %s: %v", path, err)
	}
}

// agentCounters is graceline_events_total as the agent's /metrics says.
type agentCounters struct {
	total int
	kinds map[string]int
}

var eventsTotal = regexp.MustCompile(`(?m)^graceline_events_total\{kind="([^"]+)"\} (\S+)$`)

func readCounters(b testing.TB, metrics string) agentCounters {
	b.Helper()
	c := agentCounters{kinds: map[string]int{}}
	for _, m := range eventsTotal.FindAllStringSubmatch(httpBody(b, "http://"+metrics+"/metrics"), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			b.Fatalf("graceline_events_total{kind=%q} = %q", m[1], m[2])
		}
		c.kinds[m[1]] = int(v)
		c.total += int(v)
	}
	return c
}

// sub lists the kinds that grew since o, with how much.
func (c agentCounters) sub(o agentCounters) string {
	var out []string
	for k, v := range c.kinds {
		if n := v - o.kinds[k]; n > 0 {
			out = append(out, fmt.Sprintf("%s %d", k, n))
		}
	}
	return strings.Join(out, ", ")
}

// clockTick is the unit of /proc/<pid>/stat's times: USER_HZ, 100 on Linux.
const clockTick = 10 * time.Millisecond

// cpuTime reads a process's user and system time, all threads together.
// rssParts says what pid's resident memory is made of: its heap and
// stacks (anonymous), the pages of its binary it touched (file), and the
// rest (the ring buffer's pages among them).
// rssPeak is the highest RSS sampled, and what it was made of then.
type rssPeak struct {
	kib   int
	parts string
}

func (p *rssPeak) sample(b testing.TB, pid int) {
	if n := rssKiB(b, pid); n > p.kib {
		p.kib, p.parts = n, rssParts(pid)
	}
}

func rssParts(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"Rss:", "Anonymous:", "Pss_File:", "Pss_Shmem:"} {
			if strings.HasPrefix(line, k) {
				parts = append(parts, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// contextSwitches is how many times pid's threads were switched out, by
// their choice or not: on a virtual machine each costs more than most of
// the agent's idle work.
func contextSwitches(b *testing.B, pid int) int {
	b.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // the thread exited
		}
		for _, line := range strings.Split(string(status), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			}
		}
	}
	return n
}

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
