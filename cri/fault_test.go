package cri

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// faultyRuntime is a CRI server that misbehaves on demand. Real runtimes do
// not hang or send garbage when asked to, so this is the one fake here.
type faultyRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	hangList   bool
	containers []*runtimeapi.Container
	statuses   map[string]*runtimeapi.ContainerStatusResponse
}

func (f *faultyRuntime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "faulty", RuntimeVersion: "9.9", RuntimeApiVersion: "v1"}, nil
}

func (f *faultyRuntime) ListPodSandbox(context.Context, *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	return &runtimeapi.ListPodSandboxResponse{Items: []*runtimeapi.PodSandbox{{Id: ""}, {Id: "sb1", Labels: map[string]string{"garbage": "\x00"}}}}, nil
}

func (f *faultyRuntime) ListContainers(ctx context.Context, _ *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	if f.hangList {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &runtimeapi.ListContainersResponse{Containers: f.containers}, nil
}

func (f *faultyRuntime) ContainerStatus(_ context.Context, r *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	if s, ok := f.statuses[r.ContainerId]; ok {
		return s, nil
	}
	return &runtimeapi.ContainerStatusResponse{}, nil
}

// serve runs srv on a unix socket and returns its endpoint.
func serve(t *testing.T, srv *grpc.Server) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cri.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return "unix://" + sock
}

// runObserver runs an observer against endpoint for d and returns its metrics
// and the events it emitted.
func runObserver(t *testing.T, endpoint string, d time.Duration) (*Metrics, []*apiv1.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	rs, err := Dial(ctx, endpoint, 300*time.Millisecond)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer rs.Close(ctx)
	m := NewMetrics(prometheus.NewRegistry())
	var mu sync.Mutex
	var events []*apiv1.Event
	tr := NewTracker("n", func(e *apiv1.Event) { mu.Lock(); events = append(events, e); mu.Unlock() })
	cfg := DefaultConfig()
	cfg.RelistPeriod = 100 * time.Millisecond
	o := NewObserver(rs, Runtime{Name: "faulty"}, tr, &RelistHealth{}, cfg, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(d + 5*time.Second):
		t.Fatal("observer did not stop when its context ended")
	}
	mu.Lock()
	defer mu.Unlock()
	return m, events
}

func TestObserverSurvivesFaultyRuntime(t *testing.T) {
	t.Run("a hung ListContainers times out, is counted, and relisting goes on", func(t *testing.T) {
		srv := grpc.NewServer()
		runtimeapi.RegisterRuntimeServiceServer(srv, &faultyRuntime{hangList: true})
		m, _ := runObserver(t, serve(t, srv), 2*time.Second)
		if n := testutil.ToFloat64(m.RelistErrors); n < 2 {
			t.Errorf("relist errors = %v, want at least 2 (each hung call bounded by the timeout)", n)
		}
	})

	t.Run("malformed labels, annotations and status are counted, not fatal", func(t *testing.T) {
		labels := map[string]string{LabelPodNamespace: "ns", LabelPodName: "p", LabelPodUID: "u"}
		rt := &faultyRuntime{
			containers: []*runtimeapi.Container{
				{Id: ""},
				{Id: "c1", PodSandboxId: "sb1", State: runtimeapi.ContainerState_CONTAINER_RUNNING, Labels: labels,
					Annotations: map[string]string{AnnotationTerminationGracePeriod: "soon", AnnotationPreStopHandler: "{not json", AnnotationRestartCount: "-3"}},
				{Id: "c2", State: runtimeapi.ContainerState_CONTAINER_EXITED},
			},
			statuses: map[string]*runtimeapi.ContainerStatusResponse{
				"c1": {Status: &runtimeapi.ContainerStatus{Id: "c1", State: runtimeapi.ContainerState_CONTAINER_RUNNING}, Info: map[string]string{"info": "]]garbage"}},
			},
		}
		srv := grpc.NewServer()
		runtimeapi.RegisterRuntimeServiceServer(srv, rt)
		m, events := runObserver(t, serve(t, srv), time.Second)
		for _, key := range []string{"container.id", "sandbox.id", AnnotationTerminationGracePeriod, AnnotationPreStopHandler, AnnotationRestartCount, LabelContainerName} {
			if n := testutil.ToFloat64(m.Warnings.WithLabelValues(key)); n < 1 {
				t.Errorf("warnings{key=%q} = %v, want >= 1", key, n)
			}
		}
		if n := testutil.ToFloat64(m.Warnings.WithLabelValues(AnnotationPreStopHandler)); n != 1 {
			t.Errorf("preStop warning counted %v times, want once (not at every relist)", n)
		}
		var started bool
		for _, e := range events {
			if e.Kind == apiv1.KindContainerStarted && e.Container.Id == "c1" {
				started = e.Pod.GetUid() == "u"
			}
		}
		if !started {
			t.Errorf("c1 was not reported started with its pod identity despite bad annotations; events: %v", events)
		}
	})

	t.Run("a reply that is not protobuf is an error, not a crash", func(t *testing.T) {
		srv := grpc.NewServer(grpc.ForceServerCodecV2(garbageCodec{}), grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			return stream.SendMsg([]byte{0xff, 0xff, 0xff, 0x01, 0x02})
		}))
		_, err := Dial(context.Background(), serve(t, srv), time.Second)
		if err == nil {
			t.Fatal("dial succeeded against a runtime that answers garbage")
		}
	})
}

// garbageCodec sends raw bytes, so the server can answer with anything.
type garbageCodec struct{}

func (garbageCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (garbageCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (garbageCodec) Name() string                         { return "proto" }
