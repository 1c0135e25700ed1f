package outcome

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/ingest"
	"github.com/graceline/graceline/collector/store"
)

var t0 = time.Now().Add(-time.Hour).Truncate(time.Second)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "graceline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// ingestStream serves a real ingest server on st, publishing through the
// recorder's tap, over real gRPC on loopback, and opens one agent stream.
func ingestStream(t *testing.T, st *store.Store, r *Recorder) apiv1.Ingest_StreamClient {
	t.Helper()
	srv := ingest.NewServer(st, r.Tap(nil), ingest.NewAgents(), ingest.DefaultLimits(), ingest.NewMetrics(prometheus.NewRegistry()), quiet)
	gs := grpc.NewServer()
	apiv1.RegisterIngestServer(gs, srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	s, err := apiv1.NewIngestClient(cc).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func phase(name string, from, to time.Duration) *apiv1.Phase {
	return &apiv1.Phase{Name: name, Start: timestamppb.New(t0.Add(from)), End: timestamppb.New(t0.Add(to))}
}

// summaryOf is a termination summary of pod ns/name with verdict and one
// container's cause, whose stop signal ran 2 s and teardown 1 s.
func summaryOf(ns, name, verdict, cause string) *apiv1.Event {
	return &apiv1.Event{
		Kind: apiv1.KindTerminationSummary, Node: "n1", Time: timestamppb.New(t0.Add(3 * time.Second)),
		Pod:     &apiv1.PodRef{Namespace: ns, Name: name, Uid: ns + "-" + name},
		Verdict: verdict,
		Phases:  []*apiv1.Phase{phase(apiv1.PhaseStopSignal, 0, 2*time.Second), phase(apiv1.PhaseSandboxTeardown, 2*time.Second, 3*time.Second)},
		Causes:  []*apiv1.ContainerCause{{Container: &apiv1.ContainerRef{Name: "main"}, Cause: cause}},
	}
}

func rec(seq uint64, e *apiv1.Event) *apiv1.Record {
	b, err := proto.Marshal(e)
	if err != nil {
		panic(err)
	}
	return &apiv1.Record{Key: &apiv1.DeliveryKey{Node: "n1", Epoch: 1, Seq: seq}, Event: b}
}

func TestAgentsSummariesAreCountedOnceWhenStored(t *testing.T) {
	killed := rec(1, summaryOf("shop", "web", apiv1.VerdictKilled, apiv1.CauseSignalIgnored))
	graceful := rec(2, summaryOf("shop", "api", apiv1.VerdictGraceful, apiv1.CauseExitedOnStopSignal))
	stuck := rec(3, summaryOf("shop", "db", apiv1.VerdictStuck, apiv1.CauseUnknown))
	exited := rec(4, &apiv1.Event{Kind: apiv1.KindContainerExited, Node: "n1", Time: timestamppb.New(t0), Pod: &apiv1.PodRef{Namespace: "shop", Name: "web", Uid: "shop-web"}})
	for _, tc := range []struct {
		name        string
		fromCluster bool
		batches     [][]*apiv1.Record
		// want maps "verdict/cause" to the count in namespace shop.
		want      map[string]float64
		wantCount uint64 // of the duration histogram
	}{
		{"a final summary counts once with its verdict and cause", false, [][]*apiv1.Record{{killed}},
			map[string]float64{"killed/signal_ignored": 1}, 1},
		{"a batch sent again counts nothing more", false, [][]*apiv1.Record{{killed, graceful}, {killed, graceful}},
			map[string]float64{"killed/signal_ignored": 1, "graceful/exited_on_stop_signal": 1}, 2},
		{"a resend overlapping a new summary counts only the new one", false, [][]*apiv1.Record{{killed}, {killed, graceful}},
			map[string]float64{"killed/signal_ignored": 1, "graceful/exited_on_stop_signal": 1}, 2},
		{"an agent's stuck summary is no termination yet", false, [][]*apiv1.Record{{stuck}},
			map[string]float64{"stuck/unknown": 0}, 0},
		{"other events are no terminations", false, [][]*apiv1.Record{{exited}},
			map[string]float64{"killed/signal_ignored": 0}, 0},
		{"with the cluster side an agent's summary is left to the joined one", true, [][]*apiv1.Record{{killed}},
			map[string]float64{"killed/signal_ignored": 0}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			r := New(Config{FromCluster: tc.fromCluster}, st, prometheus.NewRegistry(), quiet)
			s := ingestStream(t, st, r)
			for i, b := range tc.batches {
				if err := s.Send(&apiv1.Batch{Id: uint64(i + 1), Records: b}); err != nil {
					t.Fatal(err)
				}
				ack, err := s.Recv()
				if err != nil {
					t.Fatal(err)
				}
				if ack.Rejected != 0 {
					t.Fatalf("batch %d refused: %s", i+1, ack.Refusal)
				}
			}
			for vc, want := range tc.want {
				verdict, cause, _ := strings.Cut(vc, "/")
				if got := testutil.ToFloat64(r.m.terminations.WithLabelValues("shop", verdict, cause)); got != want {
					t.Errorf("terminations{shop,%s,%s} = %v, want %v", verdict, cause, got, want)
				}
			}
			if got := histogramCount(t, r.m.duration); got != tc.wantCount {
				t.Errorf("duration count = %d, want %d", got, tc.wantCount)
			}
		})
	}
}

func histogramCount(t *testing.T, h prometheus.Collector) uint64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 16)
	h.Collect(ch)
	close(ch)
	var n uint64
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		n += pb.GetHistogram().GetSampleCount()
	}
	return n
}
