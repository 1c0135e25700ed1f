package collector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/client"
	"github.com/graceline/graceline/collector/store"
)

const (
	benchAgentToken  = "agent-token-of-the-benchmarks"
	benchReaderToken = "reader-token-of-the-benchmarks"
)

// runCollector serves a real collector over loopback from dir until the
// benchmark ends, and returns its gRPC address.
func runCollector(b *testing.B, dir string) string {
	b.Helper()
	addr, _ := startCollector(b, dir, nil)
	return addr
}

// startCollector serves a real collector over loopback from dir, with the
// configuration changed by tune when it is not nil, and returns its gRPC
// address and a function that stops it and returns its error (again if
// called again). The benchmark's end stops it too.
func startCollector(b *testing.B, dir string, tune func(*Config)) (string, func() error) {
	b.Helper()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("agent "+benchAgentToken+"\nreader "+benchReaderToken+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	addr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	grpcAddr := addr()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := Config{DataDir: dir, GRPCAddress: grpcAddr, HTTPAddress: addr(), TokenFile: tokens}
	if tune != nil {
		tune(&cfg)
	}
	go func() {
		done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	b.Cleanup(func() {
		if err := stop(); err != nil {
			b.Error(err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", grpcAddr); err == nil {
			c.Close()
			return grpcAddr, stop
		}
		if time.Now().After(deadline) {
			b.Fatal("collector did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dialBench(b *testing.B, addr, token string) *grpc.ClientConn {
	b.Helper()
	cc, err := client.Dial(client.Options{Address: addr, Token: token})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}

// benchEvent is a typical container event of pod p on one of nodes.
func benchEvent(p, nodes int, at time.Time) *apiv1.Event {
	return &apiv1.Event{
		Kind: apiv1.KindContainerExited, Time: timestamppb.New(at), Node: fmt.Sprintf("node-%02d", p%nodes),
		Pod:       &apiv1.PodRef{Namespace: fmt.Sprintf("ns-%d", p%10), Name: fmt.Sprintf("web-%07d", p), Uid: fmt.Sprintf("6f1c2e0a-%08d", p)},
		Container: &apiv1.ContainerRef{Id: fmt.Sprintf("%064d", p), Name: "main"},
		ExitCode:  proto.Int32(137), Reason: apiv1.ReasonError, ExitedAt: timestamppb.New(at),
	}
}

// BenchmarkIngest streams b.N events from one agent through the real
// collector: gRPC over loopback, token check, decoding, and durable SQLite
// commits (WAL, synchronous=FULL), in batches of 1000 with 8 in flight, as
// the agent's sender sends them.
func BenchmarkIngest(b *testing.B) {
	addr := runCollector(b, b.TempDir())
	cc := dialBench(b, addr, benchAgentToken)
	const batchSize, window = 1000, 8
	now := time.Now()
	var batches []*apiv1.Batch
	for i := 0; i < b.N; i += batchSize {
		batch := &apiv1.Batch{Id: uint64(len(batches) + 1)}
		for j := i; j < min(i+batchSize, b.N); j++ {
			// Eight events per pod, in a row, as one node sends a pod's
			// termination; every pod is on the stream's own node, as the
			// collector refuses an agent's events about another node's.
			body, _ := proto.Marshal(benchEvent(j/8, 1, now))
			batch.Records = append(batch.Records, &apiv1.Record{Key: &apiv1.DeliveryKey{Node: "node-00", Epoch: 1, Seq: uint64(j + 1)}, Event: body})
		}
		batches = append(batches, batch)
	}
	stream, err := apiv1.NewIngestClient(cc).Stream(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	acked := make(chan error, 1)
	credit := make(chan struct{}, window)
	go func() {
		stored := 0
		for range batches {
			ack, err := stream.Recv()
			if err != nil {
				acked <- err
				return
			}
			stored += int(ack.Stored)
			<-credit
		}
		if stored != b.N {
			acked <- fmt.Errorf("stored %d of %d", stored, b.N)
			return
		}
		acked <- nil
	}()
	for _, batch := range batches {
		credit <- struct{}{}
		if err := stream.Send(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-acked; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	stream.CloseSend()
}

// timelineDB is a database of stored events, built once per run.
type timelineDB struct {
	once sync.Once
	dir  string
	err  error
	// build is how long building it took.
	build time.Duration
}

// timelineDBs are the benchmark's databases by their number of events;
// TestMain removes them.
var timelineDBs = map[int]*timelineDB{1_000_000: {}, 10_000_000: {}}

// eventsPerPod is how many events each pod of a timeline database has.
const eventsPerPod = 10

// buildTimelineDB stores events events of events/10 pods on 20 nodes,
// spread over the last six days (inside the retention), straight through
// the store: its own schema and its prepared batch inserts, 50,000 rows to a
// transaction, so that 10,000,000 events take minutes, not an hour of one
// commit per agent batch.
func buildTimelineDB(events int) (string, error) {
	dir, err := os.MkdirTemp("", "gl-bench-")
	if err != nil {
		return "", err
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "graceline.db"))
	if err != nil {
		return "", err
	}
	defer st.Close()
	start := time.Now().Add(-6 * 24 * time.Hour)
	step := 6 * 24 * time.Hour / time.Duration(events)
	pods := events / eventsPerPod
	kinds := []string{apiv1.KindContainerCreated, apiv1.KindContainerStarted, apiv1.KindPreStopExec, apiv1.KindSignalGenerated,
		apiv1.KindSignalGenerated, apiv1.KindContainerExited, apiv1.KindContainerStopped, apiv1.KindSandboxStopped,
		apiv1.KindContainerRemoved, apiv1.KindSandboxRemoved}
	const batch = 50_000
	rows := make([]store.Row, 0, batch)
	for i := 0; i < events; i += batch {
		rows = rows[:0]
		for j := i; j < min(i+batch, events); j++ {
			// Events of a pod are interleaved with other pods', as they
			// arrive from many nodes at once.
			pod, k := j%pods, j/pods
			e := benchEvent(pod, 20, start.Add(time.Duration(j)*step))
			e.Kind = kinds[k]
			body, _ := proto.Marshal(e)
			rows = append(rows, store.Row{Node: e.Node, Epoch: 1, Seq: int64(j + 1), TimeNs: e.Time.AsTime().UnixNano(), Kind: e.Kind,
				Namespace: e.Pod.Namespace, Name: e.Pod.Name, UID: e.Pod.Uid, Body: body})
		}
		if _, err := st.Insert(ctx, rows); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// BenchmarkTimelineQuery asks the real collector, over gRPC with a reader
// token, for the timeline of a random pod while it stores 1,000,000 events
// (100,000 pods) and 10,000,000 (1,000,000 pods), and reports the latency
// percentiles, the database's size and how long it took to build.
func BenchmarkTimelineQuery(b *testing.B) {
	for _, events := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) { benchTimelineQuery(b, events) })
	}
}

func benchTimelineQuery(b *testing.B, events int) {
	db := timelineDBs[events]
	db.once.Do(func() {
		start := time.Now()
		db.dir, db.err = buildTimelineDB(events)
		db.build = time.Since(start)
	})
	if db.err != nil {
		b.Fatal(db.err)
	}
	fi, err := os.Stat(filepath.Join(db.dir, "graceline.db"))
	if err != nil {
		b.Fatal(err)
	}
	addr := runCollector(b, db.dir)
	q := apiv1.NewQueryClient(dialBench(b, addr, benchReaderToken))
	rng := rand.New(rand.NewPCG(1, 2))
	pods := events / eventsPerPod
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		p := rng.IntN(pods)
		req := &apiv1.TimelineRequest{Namespace: fmt.Sprintf("ns-%d", p%10), Name: fmt.Sprintf("web-%07d", p)}
		start := time.Now()
		resp, err := q.Timeline(context.Background(), req)
		latencies = append(latencies, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Events) != eventsPerPod {
			b.Fatalf("timeline of %s has %d events, want %d", req.Name, len(resp.Events), eventsPerPod)
		}
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(fi.Size())/(1<<20), "db-MiB")
	b.ReportMetric(db.build.Seconds(), "build-s")
}
