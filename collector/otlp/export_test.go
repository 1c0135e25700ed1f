package otlp

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// receiver is a real OTLP/gRPC trace service on loopback that refuses the
// first failures exports, as a backend that is down, then keeps every span.
type receiver struct {
	coltrace.UnimplementedTraceServiceServer
	mu       sync.Mutex
	failures int
	spans    []*tracepb.Span
	addr     string
}

func (r *receiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return nil, status.Error(codes.Unavailable, "backend down")
	}
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (r *receiver) got() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans)
}

func startReceiver(t *testing.T, failures int) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{failures: failures, addr: ln.Addr().String()}
	gs := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(gs, r)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return r
}

// killedPod is a pod whose container ignored SIGTERM and was killed, as a
// node reports it, and its summary by the agent's own rule.
func killedPod(uid string, t0 time.Time) []*apiv1.Event {
	pod := &apiv1.PodRef{Namespace: "shop", Name: "web", Uid: uid}
	main := &apiv1.ContainerRef{Id: "c1", Name: "main"}
	at := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(d)) }
	ev := func(kind string, d time.Duration, f func(e *apiv1.Event)) *apiv1.Event {
		e := &apiv1.Event{Kind: kind, Time: at(d), Node: "n1", Pod: pod, Container: main}
		if f != nil {
			f(e)
		}
		return e
	}
	code137, sig9 := int32(137), int32(9)
	events := []*apiv1.Event{
		ev(apiv1.KindContainerStarted, -time.Minute, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 10, Comm: "sh"} }),
		ev(apiv1.KindSignalGenerated, 0, func(e *apiv1.Event) {
			e.Signal = &apiv1.Signal{Number: 15, Name: "SIGTERM", Result: "ignored"}
			e.Target, e.Sender = &apiv1.Task{Pid: 10, Tid: 10, Comm: "sh"}, &apiv1.Sender{Pid: 100, Comm: "runc"}
		}),
		ev(apiv1.KindSignalGenerated, 3*time.Second, func(e *apiv1.Event) {
			e.Signal = &apiv1.Signal{Number: 9, Name: "SIGKILL", Result: "delivered"}
			e.Target, e.Sender = &apiv1.Task{Pid: 10, Tid: 10, Comm: "sh"}, &apiv1.Sender{Pid: 101, Comm: "runc"}
		}),
		ev(apiv1.KindProcessExited, 3*time.Second+time.Millisecond, func(e *apiv1.Event) {
			e.Process, e.ExitSignal = &apiv1.Process{Pid: 10, Comm: "sh"}, &sig9
		}),
		ev(apiv1.KindContainerExited, 3*time.Second+2*time.Millisecond, func(e *apiv1.Event) { e.ExitCode, e.Reason = &code137, apiv1.ReasonError }),
		ev(apiv1.KindContainerStopped, 3*time.Second+50*time.Millisecond, nil),
		ev(apiv1.KindSandboxStopped, 3*time.Second+100*time.Millisecond, func(e *apiv1.Event) { e.Container = nil }),
		ev(apiv1.KindNetNSReleased, 3*time.Second+200*time.Millisecond, func(e *apiv1.Event) { e.Container, e.Path = nil, "/run/netns/x" }),
	}
	s := &apiv1.Event{Kind: apiv1.KindTerminationSummary, Time: at(3*time.Second + 300*time.Millisecond), Node: "n1", Pod: pod}
	summary.Fold(events).Fill(s)
	return append(events, s)
}

func insert(t *testing.T, st *store.Store, events []*apiv1.Event, seq0 int64) {
	t.Helper()
	rows := make([]store.Row, len(events))
	for i, e := range events {
		b, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = store.Row{Node: e.Node, Epoch: 1, Seq: seq0 + int64(i), TimeNs: e.GetTime().AsTime().UnixNano(), Kind: e.Kind,
			Namespace: e.GetPod().GetNamespace(), Name: e.GetPod().GetName(), UID: e.GetPod().GetUid(), Verdict: e.Verdict, Body: b}
	}
	if _, err := st.Insert(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
}

// runExport runs an Exporter against r until want spans arrived.
func runExport(t *testing.T, st *store.Store, r *receiver, reg *prometheus.Registry, want int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{Endpoint: "grpc://" + r.addr, Insecure: true, PollInterval: 20 * time.Millisecond}
	client, err := NewClient(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	x := New(cfg, st, client, reg, quiet)
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for len(r.got()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d spans arrived in 30 s, want %d", len(r.got()), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The cursor is saved after the read it belongs to.
	for {
		c, err := st.ExportCursor(context.Background(), CursorName)
		if err != nil {
			t.Fatal(err)
		}
		if c > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the export cursor never moved")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func byName(spans []*tracepb.Span, name string) []*tracepb.Span {
	var out []*tracepb.Span
	for _, s := range spans {
		if s.GetName() == name {
			out = append(out, s)
		}
	}
	return out
}

func TestAKilledPodIsOneTraceThatSurvivesAnOutageAndARewind(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	insert(t, st, killedPod("uid-1", t0), 1)

	// The backend refuses the first two exports: the trace is retried, not lost.
	r := startReceiver(t, 2)
	reg := prometheus.NewRegistry()
	runExport(t, st, r, reg, 1)
	first := r.got()

	t.Run("the backend's refusals were counted and the trace came after them", func(t *testing.T) {
		if got := testutil.ToFloat64(counter(t, reg, "graceline_collector_otlp_export_failures_total")); got != 2 {
			t.Errorf("failures = %v, want 2", got)
		}
	})
	t.Run("the root span is the pod termination, in Error, with the pod's attributes", func(t *testing.T) {
		roots := byName(first, SpanPodTermination)
		if len(roots) != 1 {
			t.Fatalf("%d root spans, want 1", len(roots))
		}
		root := roots[0]
		if len(root.GetParentSpanId()) != 0 {
			t.Error("the root span has a parent")
		}
		if root.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("root status = %v, want Error", root.GetStatus())
		}
		attrs := map[string]string{}
		for _, kv := range root.GetAttributes() {
			attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
		}
		for k, want := range map[string]string{"k8s.pod.uid": "uid-1", "k8s.namespace.name": "shop", "k8s.node.name": "n1", "graceline.verdict": apiv1.VerdictKilled} {
			if attrs[k] != want {
				t.Errorf("root %s = %q, want %q", k, attrs[k], want)
			}
		}
		want := PodTraceID("uid-1")
		for _, s := range first {
			if string(s.GetTraceId()) != string(want[:]) {
				t.Fatalf("span %s is in trace %x, want %x", s.GetName(), s.GetTraceId(), want)
			}
		}
	})
	t.Run("the container's stop holds the SIGKILL, under the stop_signal phase", func(t *testing.T) {
		stops := byName(first, SpanContainerStop)
		phase := byName(first, apiv1.PhaseStopSignal)
		if len(stops) != 1 || len(phase) != 1 {
			t.Fatalf("%d container_stop and %d stop_signal spans, want 1 and 1", len(stops), len(phase))
		}
		if string(stops[0].GetParentSpanId()) != string(phase[0].GetSpanId()) {
			t.Error("container_stop is not a child of stop_signal")
		}
		if got, want := stops[0].GetEndTimeUnixNano()-stops[0].GetStartTimeUnixNano(), uint64(3*time.Second+2*time.Millisecond); got != want {
			t.Errorf("container_stop lasted %v, want %v (SIGTERM to exit)", time.Duration(got), time.Duration(want))
		}
		var sigkill bool
		for _, e := range stops[0].GetEvents() {
			for _, kv := range e.GetAttributes() {
				if e.GetName() == apiv1.KindSignalGenerated && kv.GetKey() == "graceline.signal.name" && kv.GetValue().GetStringValue() == "SIGKILL" {
					sigkill = true
				}
			}
		}
		if !sigkill {
			t.Error("no signal_generated SIGKILL event on the container's span")
		}
		if stops[0].GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
			t.Error("the killed container's span is not in Error")
		}
	})

	t.Run("a rewound cursor sends the same trace with the same spans again", func(t *testing.T) {
		if err := st.SetExportCursor(context.Background(), CursorName, 0); err != nil {
			t.Fatal(err)
		}
		r2 := startReceiver(t, 0)
		runExport(t, st, r2, prometheus.NewRegistry(), len(first))
		ids := func(spans []*tracepb.Span) []string {
			var out []string
			for _, s := range spans {
				out = append(out, string(s.GetTraceId())+string(s.GetSpanId())+s.GetName())
			}
			slices.Sort(out)
			return out
		}
		if got, want := ids(r2.got()), ids(first); !slices.Equal(got, want) {
			t.Errorf("the second export's spans differ from the first's:\n got %q\nwant %q", got, want)
		}
	})
}

func counter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: "copy"}, func() float64 { return mf.GetMetric()[0].GetCounter().GetValue() })
		}
	}
	t.Fatalf("%s is not registered", name)
	return nil
}
