package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/client"
	"github.com/graceline/graceline/collector/store"
)

// terminationEvents are the events one node's agent sends for one pod's
// graceful termination, in the mix a real run has (23.6 events per
// termination in BenchmarkBusyNode): the app container's start, its
// preStop, the runtime's SIGTERM and its delivery, the app's exits, the
// runtime's reports, the pause container's SIGKILL, the sandbox's
// teardown, the release of every resource, the removals and the summary.
func terminationEvents(node string, pod int, at time.Time) []*apiv1.Event {
	ref := &apiv1.PodRef{Namespace: fmt.Sprintf("team-%d", pod%50), Name: fmt.Sprintf("web-%08d", pod), Uid: fmt.Sprintf("6f1c2e0a-7b3d-4c5e-8f90-%012d", pod)}
	app := &apiv1.ContainerRef{Id: fmt.Sprintf("a%063d", pod), Name: "web"}
	pause := &apiv1.ContainerRef{Id: fmt.Sprintf("p%063d", pod)}
	sandbox := pause.Id
	shim := &apiv1.Sender{Pid: 4100, Comm: "containerd-shim"}
	appInit := &apiv1.Task{Pid: 4242, Tid: 4242, Comm: "nginx", Threads: 4}
	pauseInit := &apiv1.Task{Pid: 4120, Tid: 4120, Comm: "pause", Threads: 1}
	ms := func(n int) time.Time { return at.Add(time.Duration(n) * time.Millisecond) }
	ev := func(n int, kind string, c *apiv1.ContainerRef) *apiv1.Event {
		return &apiv1.Event{Kind: kind, Time: timestamppb.New(ms(n)), Node: node, Pod: ref, Container: c, SandboxId: sandbox}
	}
	exit := func(e *apiv1.Event, code int32) *apiv1.Event {
		e.ExitCode, e.ExitedAt = proto.Int32(code), e.Time
		return e
	}
	signal := func(e *apiv1.Event, num int32, name, result string, target *apiv1.Task) *apiv1.Event {
		e.Signal, e.Target, e.Sender = &apiv1.Signal{Number: num, Name: name, Result: result}, target, shim
		if e.Kind == apiv1.KindSignalDelivered {
			e.Disposition = "handler"
		}
		return e
	}
	released := func(e *apiv1.Event, path string) *apiv1.Event {
		e.Path = path
		return e
	}
	proc := func(e *apiv1.Event, t *apiv1.Task, code int32) *apiv1.Event {
		e.Process = &apiv1.Process{Pid: t.Pid, Comm: t.Comm, Ppid: shim.Pid}
		return exit(e, code)
	}
	started := ev(-3_600_000, apiv1.KindContainerStarted, app)
	started.Process = &apiv1.Process{Pid: appInit.Pid, Comm: appInit.Comm, Argv: []string{"nginx", "-g", "daemon off;"}, Ppid: shim.Pid}
	preStop := ev(0, apiv1.KindPreStopExec, app)
	preStop.Process = &apiv1.Process{Pid: 4300, Comm: "sh", Argv: []string{"sh", "-c", "sleep 1"}, Ppid: shim.Pid}
	summary := ev(1_450, apiv1.KindTerminationSummary, nil)
	summary.GracePeriodS, summary.Killed, summary.Verdict = proto.Int32(30), proto.Bool(false), apiv1.VerdictGraceful
	summary.ExitCodes = map[string]int32{"web": 0}
	for i, name := range []string{apiv1.PhasePreStop, apiv1.PhaseStopSignal, apiv1.PhaseSandboxTeardown, apiv1.PhaseResourceRelease, apiv1.PhaseRemoval} {
		summary.Phases = append(summary.Phases, &apiv1.Phase{Name: name, Start: timestamppb.New(ms(i * 250)), End: timestamppb.New(ms(i*250 + 240))})
	}
	summary.Evidence = []string{"SIGTERM delivered to nginx (pid 4242), handled", "nginx exited 0 after 0.2 s"}
	return []*apiv1.Event{
		started,
		preStop,
		signal(ev(1_000, apiv1.KindSignalGenerated, app), 15, "SIGTERM", "ok", appInit),
		signal(ev(1_001, apiv1.KindSignalDelivered, app), 15, "SIGTERM", "", appInit),
		proc(ev(1_180, apiv1.KindProcessExited, app), &apiv1.Task{Pid: 4250, Comm: "nginx"}, 0),
		proc(ev(1_200, apiv1.KindProcessExited, app), appInit, 0),
		exit(ev(1_201, apiv1.KindContainerExited, app), 0),
		exit(ev(1_210, apiv1.KindContainerStopped, app), 0),
		ev(1_211, apiv1.KindContainerInspected, app),
		exit(ev(1_212, apiv1.KindContainerSummary, app), 0),
		signal(ev(1_220, apiv1.KindSignalGenerated, pause), 9, "SIGKILL", "ok", pauseInit),
		signal(ev(1_221, apiv1.KindSignalDelivered, pause), 9, "SIGKILL", "", pauseInit),
		proc(ev(1_222, apiv1.KindProcessExited, pause), pauseInit, 137),
		ev(1_230, apiv1.KindSandboxStopped, nil),
		released(ev(1_231, apiv1.KindCgroupRemoved, app), "/kubepods.slice/kubepods-pod"+ref.Uid+".slice/cri-containerd-"+app.Id+".scope"),
		released(ev(1_232, apiv1.KindCgroupRemoved, nil), "/kubepods.slice/kubepods-pod"+ref.Uid+".slice"),
		released(ev(1_240, apiv1.KindNetNSReleased, nil), "/var/run/netns/cni-"+ref.Uid),
		released(ev(1_241, apiv1.KindRootfsReleased, app), "/run/containerd/io.containerd.runtime.v2.task/k8s.io/"+app.Id+"/rootfs"),
		released(ev(1_242, apiv1.KindRootfsReleased, pause), "/run/containerd/io.containerd.runtime.v2.task/k8s.io/"+pause.Id+"/rootfs"),
		released(ev(1_243, apiv1.KindMountsReleased, nil), "/var/lib/kubelet/pods/"+ref.Uid+"/volumes"),
		ev(1_300, apiv1.KindContainerRemoved, app),
		ev(1_310, apiv1.KindSandboxRemoved, nil),
		summary,
	}
}

// flight is a batch in flight: when it was sent, in which step of the ramp.
type flight struct {
	at   time.Time
	step int
}

// clusterAgent is one simulated node: its own connection and ingest stream,
// authenticated with the agent token, one batch per termination.
type clusterAgent struct {
	node   string
	stream apiv1.Ingest_StreamClient
	work   chan int
	sent   chan flight
	seq    uint64
}

// clusterRun gathers what the agents measure.
type clusterRun struct {
	step      atomic.Int64
	stored    atomic.Int64
	acked     atomic.Int64
	mu        sync.Mutex
	latencies map[int][]time.Duration
	err       error
}

func (r *clusterRun) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

func (r *clusterRun) firstErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (a *clusterAgent) send(r *clusterRun) {
	for pod := range a.work {
		batch := &apiv1.Batch{Id: a.seq + 1}
		for _, e := range terminationEvents(a.node, pod, time.Now()) {
			a.seq++
			body, err := proto.Marshal(e)
			if err != nil {
				r.fail(err)
				return
			}
			batch.Records = append(batch.Records, &apiv1.Record{Key: &apiv1.DeliveryKey{Node: a.node, Epoch: 1, Seq: a.seq}, Event: body})
		}
		select {
		case a.sent <- flight{at: time.Now(), step: int(r.step.Load())}:
		case <-a.stream.Context().Done():
			return
		}
		if err := a.stream.Send(batch); err != nil {
			r.fail(fmt.Errorf("send batch of %s: %w", a.node, err))
			return
		}
	}
}

func (a *clusterAgent) receive(r *clusterRun, events int) {
	for {
		ack, err := a.stream.Recv()
		if err != nil {
			return
		}
		f := <-a.sent
		took := time.Since(f.at)
		if ack.Rejected > 0 || int(ack.Stored) != events {
			r.fail(fmt.Errorf("batch of %s: stored %d of %d events, rejected %d: %s", a.node, ack.Stored, events, ack.Rejected, ack.Refusal))
		}
		r.stored.Add(int64(ack.Stored))
		r.acked.Add(1)
		r.mu.Lock()
		r.latencies[f.step] = append(r.latencies[f.step], took)
		r.mu.Unlock()
	}
}

// raiseFileLimit makes room for n agent streams on loopback: both ends of
// every connection are in this process.
func raiseFileLimit(b *testing.B, n int) {
	b.Helper()
	need := uint64(2*n + 1024)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatalf("read RLIMIT_NOFILE: %v", err)
	}
	if lim.Cur < need && lim.Max > lim.Cur {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			b.Fatalf("raise RLIMIT_NOFILE to %d: %v", lim.Max, err)
		}
	}
	if lim.Cur < need {
		b.Fatalf("%d agent streams on loopback need about %d file descriptors, and RLIMIT_NOFILE allows %d (hard limit %d): raise it (ulimit -n) to run this benchmark", n, need, lim.Cur, lim.Max)
	}
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

const (
	// rampStep is how long each rate of the ramp is offered, and
	// rampDrain how long its last batches may take to be acknowledged.
	rampStep, rampDrain = 3 * time.Second, 3 * time.Second
	// ingestP99Goal is the ingest latency (send → ack) a rate must keep.
	ingestP99Goal = time.Second
	// cpuSaturated is the share of GOMAXPROCS' cores at which the process
	// counts as saturated.
	cpuSaturated = 0.95
	// maxOfferedEvents bounds the ramp: no single collector stores this
	// many events a second (BenchmarkIngest: 50,000–70,000 from one stream).
	maxOfferedEvents = 150_000
)

// BenchmarkClusterIngest simulates 100, 1,000 and 5,000 nodes on loopback,
// each an agent with its own connection and ingest stream authenticated
// with the agent token, sending each termination's 23 events in one batch.
// It raises the rate (terminations per node per minute) from 1, doubling,
// for 3 s each, until the ingest p99 (send → ack) exceeds 1 s, the
// process's CPU saturates, or the agents fall behind; it reports the
// largest rate that kept the goal, the cluster size that is at one
// termination per node per minute, and the database's bytes per
// termination. The agents run in the same process and share its CPU, so
// where the CPU is the limit, a collector alone would go further.
func BenchmarkClusterIngest(b *testing.B) {
	for _, nodes := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			for range b.N {
				benchClusterIngest(b, nodes)
			}
		})
	}
}

func benchClusterIngest(b *testing.B, nodes int) {
	raiseFileLimit(b, nodes)
	dir := b.TempDir()
	addr, stop := startCollector(b, dir, func(c *Config) {
		// The defaults (1,024 agent streams, 2,048 connections per
		// listener) are below 5,000 nodes; an operator raises them with
		// --max-agent-streams and --max-connections.
		c.Ingest.MaxStreams = nodes + 16
		c.MaxConnections = nodes + 64
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := &clusterRun{latencies: map[int][]time.Duration{}}
	events := len(terminationEvents("n", 0, time.Now()))
	agents := make([]*clusterAgent, nodes)
	var opened sync.WaitGroup
	sem := make(chan struct{}, 32)
	var openErr atomic.Value
	for i := range agents {
		a := &clusterAgent{node: fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", i/250, i%250), work: make(chan int, 8), sent: make(chan flight, 16)}
		agents[i] = a
		opened.Add(1)
		sem <- struct{}{}
		go func() {
			defer opened.Done()
			defer func() { <-sem }()
			cc, err := client.Dial(client.Options{Address: addr, Token: benchAgentToken})
			if err != nil {
				openErr.Store(err)
				return
			}
			b.Cleanup(func() { cc.Close() })
			if a.stream, err = apiv1.NewIngestClient(cc).Stream(ctx); err == nil {
				_, err = a.stream.Header()
			}
			if err != nil {
				openErr.Store(fmt.Errorf("open stream of %s: %w", a.node, err))
			}
		}()
	}
	opened.Wait()
	if err, _ := openErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	var agentsDone sync.WaitGroup
	for _, a := range agents {
		agentsDone.Add(2)
		go func() { defer agentsDone.Done(); a.send(run) }()
		go func() { defer agentsDone.Done(); a.receive(run, events) }()
	}

	b.ResetTimer()
	pod, best, atOne := 0, 0.0, time.Duration(0)
	var bestCPU float64
	for step, rate := 0, 1.0; float64(nodes)*rate/60*float64(events) <= maxOfferedEvents; step, rate = step+1, rate*2 {
		run.step.Store(int64(step))
		perSec := float64(nodes) * rate / 60
		offered, behind := 0, 0
		cpu0, start := cpuTime(), time.Now()
		tick := time.NewTicker(10 * time.Millisecond)
		for now := start; now.Sub(start) < rampStep; now = <-tick.C {
			for due := int(perSec * now.Sub(start).Seconds()); offered < due; offered++ {
				a := agents[pod%nodes]
				select {
				case a.work <- pod:
				default:
					behind++
				}
				pod++
			}
		}
		tick.Stop()
		// Wait for this step's batches to be acknowledged, within the
		// drain time; those still unacknowledged then are too late.
		deadline := time.Now().Add(rampDrain)
		for run.acked.Load() < int64(pod-behind) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cpu := float64(cpuTime()-cpu0) / float64(time.Since(start)) / float64(runtime.GOMAXPROCS(0))
		run.mu.Lock()
		lat := run.latencies[step]
		run.mu.Unlock()
		p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
		late := int64(pod-behind) - run.acked.Load()
		b.Logf("%d nodes at %g terminations/node/min (%.0f events/s): %d terminations, p50 %v, p99 %v, %d behind, %d late, CPU %.0f%% of %d cores",
			nodes, rate, perSec*float64(events), offered, p50.Round(time.Millisecond), p99.Round(time.Millisecond), behind, late, 100*cpu, runtime.GOMAXPROCS(0))
		if err := run.firstErr(); err != nil {
			b.Fatal(err)
		}
		if rate == 1 {
			atOne = p99
		}
		if p99 > ingestP99Goal || behind > 0 || late > 0 || cpu >= cpuSaturated {
			break
		}
		best, bestCPU = rate, cpu
	}
	b.StopTimer()
	cancel()
	for _, a := range agents {
		close(a.work)
	}
	agentsDone.Wait()
	// The collector's close checkpoints the WAL into the database file.
	if err := stop(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "graceline.db"))
	if err != nil {
		b.Fatal(err)
	}
	terminations := run.stored.Load() / int64(events)
	b.ReportMetric(best, "max-terminations/node/min")
	b.ReportMetric(best*float64(nodes), "nodes-at-1/min")
	// Each termination is one batch, and the store commits each batch on
	// its own, so this is also the commits a second the collector kept up
	// with.
	b.ReportMetric(best*float64(nodes)/60, "batches/s-at-max")
	b.ReportMetric(float64(atOne.Microseconds())/1000, "p99-ms-at-1/min")
	b.ReportMetric(100*bestCPU, "cpu%-at-max")
	b.ReportMetric(float64(fi.Size())/float64(max(1, terminations)), "db-bytes/termination")
}

// BenchmarkRetentionBounded fills a database with 4,000 terminations
// (92,000 events) a day past the retention, purges them as the
// collector's purge loop does, and stores as many again: the freed pages
// are reused, so the file does not grow past its first size.
func BenchmarkRetentionBounded(b *testing.B) {
	for range b.N {
		ctx := context.Background()
		path := filepath.Join(b.TempDir(), "graceline.db")
		const terminations = 4_000
		fill := func(at time.Time, from int) {
			st, err := store.Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			var rows []store.Row
			seq := int64(from) * 30
			for p := from; p < from+terminations; p++ {
				node := fmt.Sprintf("node-%03d", p%100)
				for _, e := range terminationEvents(node, p, at) {
					seq++
					body, _ := proto.Marshal(e)
					rows = append(rows, store.Row{Node: node, Epoch: 1, Seq: seq, TimeNs: e.Time.AsTime().UnixNano(), Kind: e.Kind,
						Namespace: e.Pod.Namespace, Name: e.Pod.Name, UID: e.Pod.Uid, Body: body})
				}
				if len(rows) >= 5000 || p == from+terminations-1 {
					if _, err := st.Insert(ctx, rows); err != nil {
						b.Fatal(err)
					}
					rows = rows[:0]
				}
			}
		}
		size := func() int64 {
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			return fi.Size()
		}
		fill(time.Now().Add(-DefaultRetention-24*time.Hour), 0)
		full := size()
		st, err := store.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		purged, err := st.Purge(ctx, time.Now().Add(-DefaultRetention).UnixNano())
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
		if want := int64(terminations * len(terminationEvents("n", 0, time.Now()))); purged != want {
			b.Fatalf("purged %d events, want %d", purged, want)
		}
		fill(time.Now(), terminations)
		refilled := size()
		if refilled > full+full/10 {
			b.Fatalf("database grew from %d to %d bytes across a purge and a refill of the same size: purged pages are not reused", full, refilled)
		}
		b.ReportMetric(float64(full)/(1<<20), "MiB-full")
		b.ReportMetric(float64(refilled)/(1<<20), "MiB-after-purge-and-refill")
		b.ReportMetric(float64(full)/terminations, "bytes/termination")
	}
}
