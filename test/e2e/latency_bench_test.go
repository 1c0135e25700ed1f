package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// latencyPods is how many pods the latency benchmark churns.
const latencyPods = 20

// latencyGap is the time between two deletions of the churn.
const latencyGap = 250 * time.Millisecond

// arrival is an event as a collector watch received it.
type arrival struct {
	e  *apiv1.Event
	at time.Time
}

// BenchmarkDeliveryLatency measures how long an event takes from its time
// on the node to a collector watch: the agent runs as a node runs it (spool
// and sender to a real collector), a `kubectl graceline watch -A -o json`
// reads the collector, and latencyPods pods of four kinds (a graceful
// shell, one that ignores SIGTERM, one with a preStop hook, a forking loop)
// are started and then deleted one every latencyGap on containerd 2.x. It
// reports the p50, p90, p99 and largest latency of the facts (what the
// kernel and the runtime reported) and of the agent's conclusions
// (summaries and inspections, which wait on purpose) apart, and logs them
// by kind and the slowest facts. The containers' histories, events from
// before a deletion shipped when it begins, are left out.
func BenchmarkDeliveryLatency(b *testing.B) {
	var facts, conclusions []time.Duration
	podless := 0
	for round := range b.N {
		f, c, p := latencyRound(b, fmt.Sprintf("lat%d", round))
		facts, conclusions, podless = append(facts, f...), append(conclusions, c...), podless+p
	}
	// Every event of the churn is some pod's: one without a pod was held
	// for one in vain, and waited the attribution window.
	b.ReportMetric(float64(podless)/float64(b.N), "podless/round")
	for _, series := range []struct {
		unit string
		lat  []time.Duration
	}{{"", facts}, {"conclusions-", conclusions}} {
		slices.Sort(series.lat)
		q := func(p float64) float64 {
			return float64(series.lat[int(p*float64(len(series.lat)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric(q(0.5), series.unit+"p50-ms")
		b.ReportMetric(q(0.99), series.unit+"p99-ms")
		b.ReportMetric(q(1), series.unit+"max-ms")
	}
	b.ReportMetric(q90(facts), "p90-ms")
	b.ReportMetric(float64(len(facts)+len(conclusions))/float64(b.N), "events/round")
}

// q90 is the 90th percentile of sorted, in milliseconds.
func q90(sorted []time.Duration) float64 {
	return float64(sorted[(len(sorted)-1)*9/10]) / float64(time.Millisecond)
}

// conclusion says whether events of kind k are the agent's conclusions:
// their time is that of what they describe (a termination's end, the
// processes as read at the stop signal), and they leave once decided: a
// summary waits for the termination's late releases, an inspection for the
// runtime's SIGKILL that makes it matter. Facts leave as they are seen.
func conclusion(k string) bool {
	switch k {
	case apiv1.KindTerminationSummary, apiv1.KindContainerSummary, apiv1.KindContainerInspected, apiv1.KindStuck:
		return true
	}
	return false
}

func latencyRound(b *testing.B, prefix string) (facts, conclusions []time.Duration, podless int) {
	ctx := context.Background()
	c, d := startRuntime(b, harness.Containerd2)
	addr, tokens := startCollector(b)
	agent := startAgent(b, "--cri-endpoint", c.Endpoint(), "--output", "none",
		"--collector", addr, "--token-file", tokens, "--spool-dir", filepath.Join(b.TempDir(), "spool"))
	agent.waitLog(b, 30*time.Second, "msg=sources")

	arrivals, stop := watchArrivals(b, addr)
	defer stop()

	pods := make([]*harness.Pod, latencyPods)
	for i := range pods {
		name := fmt.Sprintf("%s-%d", prefix, i)
		var spec harness.PodSpec
		switch i % 4 {
		case 0:
			spec = newSpec(name, 5, harness.ContainerSpec{Name: "main", Command: shell("trap 'exit 0' TERM; while :; do sleep 0.2; done")})
		case 1:
			spec = newSpec(name, 2, harness.ContainerSpec{Name: "main", Command: shell("trap '' TERM; while :; do sleep 0.2; done")})
		case 2:
			spec = newSpec(name, 5, harness.ContainerSpec{Name: "main", Command: shell("trap 'exit 0' TERM; while :; do sleep 0.2; done"),
				PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"sleep", "1"}}}})
		default:
			spec = newSpec(name, 5, harness.ContainerSpec{Name: "main", Command: shell("while :; do sleep 1; done")})
		}
		var err error
		if pods[i], err = d.RunPod(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, 2*time.Minute, "every pod's container_started at the watch", func() bool { return count(arrivals(), apiv1.KindContainerStarted) >= latencyPods })
	start := len(arrivals())

	var wg sync.WaitGroup
	deleted := map[string]time.Time{}
	for _, p := range pods {
		deleted[p.Spec.UID] = time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.DeletePod(ctx, p); err != nil {
				b.Error(err)
			}
		}()
		time.Sleep(latencyGap)
	}
	wg.Wait()
	waitFor(b, 2*time.Minute, "every pod's termination_summary at the watch", func() bool { return count(arrivals(), apiv1.KindTerminationSummary) >= latencyPods })
	// Resources come free after the summary too.
	time.Sleep(5 * time.Second)

	// A container's history (its loop's last exits before the deletion)
	// is shipped when its termination begins, by design, and is left out.
	var churn []arrival
	history := 0
	for _, a := range arrivals()[start:] {
		if at, ok := deleted[a.e.GetPod().GetUid()]; ok && a.e.GetTime().AsTime().Before(at) {
			history++
			continue
		}
		churn = append(churn, a)
	}
	lat := make([]time.Duration, len(churn))
	for i, a := range churn {
		lat[i] = a.at.Sub(a.e.GetTime().AsTime())
	}
	byKind := map[string][]time.Duration{}
	for i, a := range churn {
		byKind[a.e.Kind] = append(byKind[a.e.Kind], lat[i])
	}
	var lines []string
	for k, ls := range byKind {
		slices.Sort(ls)
		lines = append(lines, fmt.Sprintf("%-22s %4d  p50 %7s  p99 %7s  max %7s", k, len(ls),
			ls[len(ls)/2].Round(time.Millisecond), ls[(len(ls)-1)*99/100].Round(time.Millisecond), ls[len(ls)-1].Round(time.Millisecond)))
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i] < lines[j] })
	b.Logf("%d events in the churn (and %d of history, left out), by kind:\n%s", len(churn), history, strings.Join(lines, "\n"))
	order := make([]int, len(churn))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return lat[order[i]] > lat[order[j]] })
	lines = lines[:0]
	for _, i := range order {
		if len(lines) == 12 {
			break
		}
		e := churn[i].e
		if conclusion(e.Kind) {
			continue
		}
		lines = append(lines, fmt.Sprintf("%8s %s %s %s ctr=%s target=%d/%s sender=%s path=%s", lat[i].Round(time.Millisecond), e.GetPod().GetName(), e.Kind,
			e.GetSignal().GetName(), e.GetContainer().GetName(), e.GetTarget().GetPid(), e.GetTarget().GetComm(), e.GetSender().GetComm(), e.GetPath()))
	}
	b.Logf("the slowest facts:\n%s", strings.Join(lines, "\n"))
	for i, a := range churn {
		if conclusion(a.e.Kind) {
			conclusions = append(conclusions, lat[i])
		} else {
			facts = append(facts, lat[i])
		}
		if a.e.GetPod().GetUid() == "" {
			podless++
		}
	}
	return facts, conclusions, podless
}

// watchArrivals runs `kubectl graceline watch -A -o json` against the
// collector at addr and returns a function that lists what it received so
// far, with when, and one that stops it.
func watchArrivals(tb testing.TB, addr string) (func() []arrival, func()) {
	tb.Helper()
	cmd := exec.Command(cliBin, "--collector", addr, "--token", e2eReaderToken, "watch", "-A", "-o", "json")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr harness.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var got []arrival
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			at := time.Now()
			e := new(apiv1.Event)
			if apiv1.UnmarshalJSONLine(sc.Bytes(), e) != nil {
				continue
			}
			mu.Lock()
			got = append(got, arrival{e: e, at: at})
			mu.Unlock()
		}
		io.Copy(io.Discard, out)
	}()
	waitFor(tb, 10*time.Second, "the watch to be in place", func() bool { return strings.Contains(stderr.String(), "watching") })
	list := func() []arrival {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		cmd.Wait()
	}
	return list, stop
}

// count counts the arrivals of kind k.
func count(as []arrival, k string) int {
	n := 0
	for _, a := range as {
		if a.e.Kind == k {
			n++
		}
	}
	return n
}
