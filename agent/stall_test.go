package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/graceline/graceline/agent/pipeline"
	"github.com/graceline/graceline/agent/sink"
	"github.com/graceline/graceline/cri"
)

// growingRuntime is a CRI runtime where new containers keep appearing: each
// listing holds perList more, so that every relist emits events.
type growingRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	perList int
	mu      sync.Mutex
	items   []*runtimeapi.Container
}

func (g *growingRuntime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "growing", RuntimeVersion: "1.0", RuntimeApiVersion: "v1"}, nil
}

func (g *growingRuntime) ListPodSandbox(context.Context, *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	return &runtimeapi.ListPodSandboxResponse{}, nil
}

func (g *growingRuntime) ListContainers(context.Context, *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for range g.perList {
		n := len(g.items)
		g.items = append(g.items, &runtimeapi.Container{
			Id: fmt.Sprint("c", n), PodSandboxId: fmt.Sprint("s", n), State: runtimeapi.ContainerState_CONTAINER_CREATED, CreatedAt: time.Now().UnixNano(),
			Labels: map[string]string{cri.LabelPodNamespace: "ns", cri.LabelPodName: fmt.Sprint("p", n), cri.LabelPodUID: fmt.Sprint("u", n), cri.LabelContainerName: "main"},
		})
	}
	return &runtimeapi.ListContainersResponse{Containers: g.items}, nil
}

// stalledWriter blocks its first Write for stall, as a stdout nobody reads.
type stalledWriter struct {
	stall   time.Duration
	entered chan struct{}
	once    sync.Once
	stalled atomic.Bool
}

func (w *stalledWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		w.stalled.Store(true)
		close(w.entered)
		time.Sleep(w.stall)
		w.stalled.Store(false)
	})
	return len(p), nil
}

// scrape reads one sample from the agent's /metrics.
func scrape(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("parse %s: %v", sc.Text(), err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", series)
	return 0
}

// TestStalledSinkDoesNotStopTheAgent runs the agent against a CRI runtime
// whose containers keep appearing, with a JSON output that blocks for 5 s.
// While it blocks, the relist goes on, the events past the sink's buffer
// are dropped and counted, and /healthz answers; then the agent stops.
func TestStalledSinkDoesNotStopTheAgent(t *testing.T) {
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, &growingRuntime{perList: 5})
	sock := filepath.Join(t.TempDir(), "cri.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()

	out := &stalledWriter{stall: 5 * time.Second, entered: make(chan struct{})}
	cfg := validConfig()
	cfg.CRIEndpoint, cfg.MetricsAddress, cfg.Output = "unix://"+sock, addr, out
	cfg.Observer.RelistPeriod, cfg.Observer.DisableStream = 100*time.Millisecond, true
	cfg.ContainerdAddress = ContainerdOff
	cfg.Delivery.SpoolDir = ""
	cfg.Pipeline = pipeline.Config{QueueLen: 64, SinkBufferLen: 16}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	select {
	case <-out.entered:
	case err := <-ran:
		t.Fatalf("Run ended before writing an event: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the agent never wrote its first event")
	}
	relists := scrape(t, addr, "graceline_cri_relists_total")
	dropped := `graceline_events_dropped_total{reason="` + sink.DroppedOutputFull + `"}`
	for deadline := time.Now().Add(4 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if !out.stalled.Load() {
			t.Fatal("the sink's stall ended before the relist was seen going on and dropping")
		}
		if scrape(t, addr, "graceline_cri_relists_total") >= relists+10 && scrape(t, addr, dropped) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("while the sink blocked: relists went from %v to %v, %s = %v", relists, scrape(t, addr, "graceline_cri_relists_total"), dropped, scrape(t, addr, dropped))
		}
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz while the sink blocked: %v %v", resp, err)
	}
	resp.Body.Close()
	if !out.stalled.Load() {
		t.Fatal("the sink's stall ended before /healthz was checked")
	}

	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not stop")
	}
}
