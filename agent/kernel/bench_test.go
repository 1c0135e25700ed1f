package kernel

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/graceline/graceline/agent/pipeline"
	"github.com/graceline/graceline/agent/sink"
	"github.com/graceline/graceline/agent/spool"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/signals"
	"github.com/graceline/graceline/internal/pacer"
)

// benchPipeline is the agent's kernel path as Run wires it, from the ring
// buffer reader's hand-off (handle, which attributes on the reader's
// goroutine) through the event queue and the timeline, to a real spool
// behind its sink buffer. It records how long each event took from the
// hand-off to its spool append.
type benchPipeline struct {
	kernel    *kernelSource
	queue     *pipeline.Queue
	qm        *pipeline.Metrics
	sinkDrops prometheus.Counter
	buffer    *pipeline.Buffer
	spooled   atomic.Int64
	latencies []time.Duration
	stop      func()
}

const benchNS = 4026532001

// newBenchPipeline builds the path with its spool in dir.
func newBenchPipeline(b *testing.B, dir string) *benchPipeline {
	b.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	m := testMetrics(reg)
	sp, err := spool.Open(dir, spool.Options{Node: "n", MaxBytes: 256 << 20}, reg, quiet)
	if err != nil {
		b.Fatal(err)
	}
	bp := &benchPipeline{qm: pipeline.NewMetrics(reg), sinkDrops: m.Dropped.WithLabelValues(sink.DroppedSpoolFull)}
	bp.queue = pipeline.New(0, bp.qm, nil)
	bp.buffer = pipeline.NewBuffer(0, func(e *apiv1.Event) {
		if err := sp.Append(e); err != nil {
			b.Error(err)
		}
		bp.latencies = append(bp.latencies, time.Since(e.Time.AsTime()))
		bp.spooled.Add(1)
	}, bp.sinkDrops)
	attribution := newRegistry(time.Minute, quiet)
	attribution.byNS[benchNS] = &containerRef{id: "c1", name: "main", pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}}
	bp.kernel = &kernelSource{reg: attribution, emit: bp.queue.Events(pipeline.SourceKernel), node: "n", hostNS: 1, window: time.Second, now: time.Now, pace: pacer.New(time.Second),
		dropped: m.Dropped, unattributed: m.Unattributed, repaired: m.Repaired, log: quiet,
		cni: newCNIRuns("n", attribution.sandboxPod, m.Dropped, m.CNIUnparsable), cniRescan: time.Hour}
	corr := newBenchCorrelator()
	ctx, cancel := context.WithCancel(context.Background())
	attributed, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(attributed)
		bp.kernel.attribute(ctx)
	}()
	go func() {
		defer close(drained)
		bp.queue.Run(pipeline.Events(corr), pipeline.Events(bp.buffer.Emit))
	}()
	bp.stop = func() {
		cancel()
		<-attributed
		bp.queue.Stop()
		<-drained
		bp.buffer.Close(time.Minute)
		sp.Close()
	}
	return bp
}

// newBenchCorrelator stands for the timeline stage with its own lock and
// bookkeeping per event; the correlator's cost is measured by its own tests.
func newBenchCorrelator() func(*apiv1.Event) {
	seen := map[string]int{}
	return func(e *apiv1.Event) { seen[e.GetPod().GetUid()]++ }
}

// event is a signal to the attributed container, stamped now.
func benchEvent(pid int) kernelEvent {
	return kernelEvent{signal: &signals.Event{Type: signals.Generate, Time: time.Now(), Signal: syscall.SIGTERM, MntNS: benchNS,
		Pid: uint32(pid), Tid: uint32(pid), Comm: "sh", SenderPid: 1, SenderComm: "runc", SenderMntNS: 1}}
}

// waitSpooled waits until every event published has reached the spool or
// was dropped on the way.
func (bp *benchPipeline) waitSpooled(b *testing.B, n int) (dropped float64) {
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Microsecond) {
		dropped = testutil.ToFloat64(bp.qm.Dropped.WithLabelValues(pipeline.SourceKernel)) + testutil.ToFloat64(bp.sinkDrops)
		if bp.spooled.Load()+int64(dropped) >= int64(n) {
			return dropped
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d events spooled, %v dropped", bp.spooled.Load(), n, dropped)
		}
	}
}

// percentiles stops the pipeline and returns the median and the 99th
// percentile of the latencies.
func (bp *benchPipeline) percentiles() (p50, p99 time.Duration) {
	bp.stop()
	if len(bp.latencies) == 0 {
		return 0, 0
	}
	slices.Sort(bp.latencies)
	return bp.latencies[len(bp.latencies)/2], bp.latencies[len(bp.latencies)*99/100]
}

// BenchmarkPipelineThroughput hands over b.N kernel events as fast as the
// reader's goroutine attributes and publishes them, and reports how many reach the spool per
// second; events dropped on the way (a full queue or sink buffer) are not
// counted as reached, and are reported as "dropped".
func BenchmarkPipelineThroughput(b *testing.B) {
	bp := newBenchPipeline(b, b.TempDir())
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		bp.kernel.handle(benchEvent(i))
	}
	dropped := bp.waitSpooled(b, b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(bp.spooled.Load())/elapsed.Seconds(), "events/s")
	b.ReportMetric(dropped, "dropped")
	bp.stop()
}

// BenchmarkPipelineLatency hands over kernel events at 100,000 a second, the
// rate the pipeline is built for, and reports the median and the 99th
// percentile of the time from the reader's hand-off to the spool.
//
// It runs twice: with the spool on disk, as in the agent, and with the
// spool in memory (tmpfs), which leaves out the disk: a write that waits
// for a busy disk holds up every event behind it, and on a loaded machine
// those waits, not the pipeline's hops, make the tail.
func BenchmarkPipelineLatency(b *testing.B) {
	b.Run("spool on disk", func(b *testing.B) { benchLatency(b, b.TempDir()) })
	b.Run("spool in memory", func(b *testing.B) {
		if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
			b.Skip("no /dev/shm to hold the spool in memory")
		}
		dir, err := os.MkdirTemp("/dev/shm", "graceline-bench-")
		if err != nil {
			b.Skip("cannot use /dev/shm:", err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		benchLatency(b, dir)
	})
}

func benchLatency(b *testing.B, dir string) {
	const rate, burst = 100_000, 10
	bp := newBenchPipeline(b, dir)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += burst {
		// Pace by the clock, not by sleeps, so the rate holds on average.
		// On Linux a sleep under a millisecond lasts about one, so the
		// events come in bursts of about 100 a millisecond, as from a busy
		// ring buffer.
		for time.Since(start) < time.Duration(i)*time.Second/rate {
			time.Sleep(50 * time.Microsecond)
		}
		for j := i; j < min(i+burst, b.N); j++ {
			bp.kernel.handle(benchEvent(j))
		}
	}
	dropped := bp.waitSpooled(b, b.N)
	b.StopTimer()
	b.ReportMetric(dropped, "dropped")
	p50, p99 := bp.percentiles()
	b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
}
