//go:build scaleout

// Package scaleout tries graceline's path past one collector once: the real
// graceline collector exports its terminations over OTLP to an OpenTelemetry
// Collector (built by hack/build-otelcol.sh) whose loadbalancing exporter
// routes each trace, by its ID, to one of two real Jaeger instances. `make
// scaleout` builds the parts and runs it with the scaleout build tag, which
// keeps it out of `make test`: the collector's first build takes many
// minutes, for a path tried once rather than on every change.
package scaleout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector"
	"github.com/graceline/graceline/collector/client"
	"github.com/graceline/graceline/collector/otlp"
	"github.com/graceline/graceline/test/harness"
)

const (
	agentToken = "agent-token-of-the-scale-out-test"
	// pods is how many terminations go out: enough that a trace-ID hash over
	// two backends leaves neither empty by chance (2^-63).
	pods = 64
)

// otelcolConfig receives OTLP/gRPC and load-balances by trace ID over a
// static list of Jaeger OTLP/gRPC receivers. It is the configuration the
// README's "Past one collector" section shows.
const otelcolConfig = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
exporters:
  loadbalancing:
    routing_key: traceID
    protocol:
      otlp:
        tls:
          insecure: true
    resolver:
      static:
        hostnames: [%s, %s]
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [loadbalancing]
  telemetry:
    metrics:
      level: none
`

// TestTracesAreLoadBalancedByTraceIDOverTwoJaegers sends 64 pod
// terminations through the real collector's ingest, and waits for their
// traces: each must arrive whole (every span the collector's trace builder
// makes) in exactly one Jaeger, and each Jaeger must get some.
func TestTracesAreLoadBalancedByTraceIDOverTwoJaegers(t *testing.T) {
	jaegers := []*harness.Jaeger{startJaeger(t), startJaeger(t)}
	otelcolAddr := startOtelcol(t, jaegers[0].OTLP, jaegers[1].OTLP)
	grpcAddr := startCollector(t, otelcolAddr)

	start := time.Now()
	want := map[string][]string{} // trace ID → its span IDs, sorted
	var records []*apiv1.Record
	for p := range pods {
		events := termination(p, start.Add(-time.Minute))
		spans := otlp.PodTrace(events[len(events)-1], events, nil, resource.Empty())
		var ids []string
		for _, s := range spans {
			ids = append(ids, s.SpanContext().SpanID().String())
		}
		slices.Sort(ids)
		want[otlp.PodTraceID(events[0].Pod.Uid).String()] = ids
		for _, e := range events {
			body, err := proto.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			records = append(records, &apiv1.Record{Key: &apiv1.DeliveryKey{Node: e.Node, Epoch: 1, Seq: uint64(len(records) + 1)}, Event: body})
		}
	}
	send(t, grpcAddr, records)

	// Poll both Jaegers until every trace is in one of them whole, or the
	// deadline passes.
	var where map[string][]int
	var partial []string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		where, partial = map[string][]int{}, nil
		for tid, ids := range want {
			for i, j := range jaegers {
				got, ok := spanIDs(t, j, tid)
				if !ok {
					continue
				}
				where[tid] = append(where[tid], i)
				if !slices.Equal(got, ids) {
					partial = append(partial, fmt.Sprintf("%s in Jaeger %d: spans %q, want %q", tid, i, got, ids))
				}
			}
		}
		if len(where) == len(want) && len(partial) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes %d of %d traces arrived; partial: %q", len(where), len(want), partial)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("all %d traces arrived whole %.1fs after their events were sent", len(want), time.Since(start).Seconds())

	perJaeger := make([]int, len(jaegers))
	for tid, in := range where {
		if len(in) != 1 {
			t.Errorf("trace %s is in Jaegers %v, want exactly one", tid, in)
		}
		perJaeger[in[0]]++
	}
	t.Logf("traces per Jaeger: %v", perJaeger)
	for i, n := range perJaeger {
		if n == 0 {
			t.Errorf("Jaeger %d got no trace of %d; the load balancer sent everything to one backend", i, len(want))
		}
	}
}

// termination is the events one node's agent sends for pod p's graceful
// termination, the summary last.
func termination(p int, at time.Time) []*apiv1.Event {
	// One node: an ingest stream speaks for the node of its first record.
	node := "node-00"
	ref := &apiv1.PodRef{Namespace: "shop", Name: fmt.Sprintf("web-%03d", p), Uid: fmt.Sprintf("5c0f7e3a-1b2d-4e6f-8a9b-%012d", p)}
	app := &apiv1.ContainerRef{Id: fmt.Sprintf("a%063d", p), Name: "web"}
	ms := func(n int) *timestamppb.Timestamp {
		return timestamppb.New(at.Add(time.Duration(n) * time.Millisecond))
	}
	ev := func(n int, kind string) *apiv1.Event {
		return &apiv1.Event{Kind: kind, Time: ms(n), Node: node, Pod: ref, Container: app}
	}
	started := ev(-60_000, apiv1.KindContainerStarted)
	started.Process = &apiv1.Process{Pid: 4242, Comm: "nginx", Argv: []string{"nginx"}}
	term := ev(1_000, apiv1.KindSignalGenerated)
	term.Signal = &apiv1.Signal{Number: 15, Name: "SIGTERM", Result: "ok"}
	term.Target, term.Sender = &apiv1.Task{Pid: 4242, Tid: 4242, Comm: "nginx"}, &apiv1.Sender{Pid: 4100, Comm: "containerd-shim"}
	exited := ev(1_200, apiv1.KindContainerExited)
	exited.ExitCode, exited.Reason, exited.ExitedAt = proto.Int32(0), apiv1.ReasonCompleted, exited.Time
	sum := ev(1_400, apiv1.KindTerminationSummary)
	sum.Container = nil
	sum.GracePeriodS, sum.Killed, sum.Verdict = proto.Int32(30), proto.Bool(false), apiv1.VerdictGraceful
	sum.ExitCodes = map[string]int32{"web": 0}
	sum.Phases = []*apiv1.Phase{
		{Name: apiv1.PhaseStopSignal, Start: ms(1_000), End: ms(1_200)},
		{Name: apiv1.PhaseSandboxTeardown, Start: ms(1_210), End: ms(1_300)},
		{Name: apiv1.PhaseRemoval, Start: ms(1_310), End: ms(1_400)},
	}
	return []*apiv1.Event{started, term, exited, sum}
}

func startJaeger(t *testing.T) *harness.Jaeger {
	t.Helper()
	j, err := harness.StartJaeger(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		j.Stop()
		if t.Failed() {
			t.Logf("Jaeger's log:\n%s", j.Logs.String())
		}
	})
	return j
}

// startOtelcol runs hack/build-otelcol.sh's collector, load-balancing over
// backends, and returns its OTLP/gRPC address once it listens.
func startOtelcol(t *testing.T, backends ...string) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "_output", "otelcol", "bin", "otelcol")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the OpenTelemetry Collector is missing (hack/build-otelcol.sh builds it; make scaleout runs it): %v", err)
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "otelcol.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, otelcolConfig, addr, backends[0], backends[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &harness.Buffer{}
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("otelcol's log:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("otelcol exited at start: %v\n%s", cmd.ProcessState, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("otelcol not listening after 30s:\n%s", logs.String())
		}
	}
}

// startCollector runs the real graceline collector, without a cluster
// side, exporting to the OTLP/gRPC endpoint at otlpAddr, and returns its
// gRPC address once it listens.
func startCollector(t *testing.T, otlpAddr string) string {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("agent "+agentToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	grpcAddr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	httpAddr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := collector.Config{DataDir: dir, GRPCAddress: grpcAddr, HTTPAddress: httpAddr, TokenFile: tokens,
		OTLP: &otlp.Config{Endpoint: "grpc://" + otlpAddr, Insecure: true, PollInterval: 100 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- collector.Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", grpcAddr, time.Second); err == nil {
			c.Close()
			return grpcAddr
		}
		if time.Now().After(deadline) {
			t.Fatal("the collector did not listen within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// send streams records to the collector as an agent does, in one batch,
// and waits until it acknowledges them stored.
func send(t *testing.T, addr string, records []*apiv1.Record) {
	t.Helper()
	cc, err := client.Dial(client.Options{Address: addr, Token: agentToken})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := apiv1.NewIngestClient(cc).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&apiv1.Batch{Id: 1, Records: records}); err != nil {
		t.Fatal(err)
	}
	ack, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if int(ack.Stored) != len(records) {
		t.Fatalf("the collector stored %d of %d events: %v", ack.Stored, len(records), ack)
	}
	stream.CloseSend()
}

// spanIDs fetches a trace from Jaeger's query API and returns its distinct
// span IDs, sorted; ok is false while Jaeger does not have it.
func spanIDs(t *testing.T, j *harness.Jaeger, tid string) ([]string, bool) {
	resp, err := http.Get("http://" + j.Query + "/api/traces/" + tid)
	if err != nil {
		t.Logf("get trace %s: %v", tid, err)
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	var body struct {
		Data []struct {
			Spans []struct {
				SpanID string `json:"spanID"`
			} `json:"spans"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Data) != 1 {
		return nil, false
	}
	var ids []string
	for _, s := range body.Data[0].Spans {
		ids = append(ids, s.SpanID)
	}
	slices.Sort(ids)
	return slices.Compact(ids), true
}
