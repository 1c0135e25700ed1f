package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// syncBuffer is a log sink that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is an ingest server on a real store and real gRPC over
// loopback.
type testServer struct {
	srv  *Server
	m    *Metrics
	logs *syncBuffer
	cc   *grpc.ClientConn
}

func newTestServer(t *testing.T, dbDir string, limits Limits) *testServer {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dbDir, "graceline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := &testServer{m: NewMetrics(prometheus.NewRegistry()), logs: &syncBuffer{}}
	ts.srv = NewServer(st, nil, NewAgents(), limits, ts.m, slog.New(slog.NewTextHandler(ts.logs, nil)))
	gs := grpc.NewServer()
	apiv1.RegisterIngestServer(gs, ts.srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	ts.cc, err = grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.cc.Close() })
	return ts
}

func (ts *testServer) stream(t *testing.T) apiv1.Ingest_StreamClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	s, err := apiv1.NewIngestClient(ts.cc).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func record(node string, seq uint64, e *apiv1.Event) *apiv1.Record {
	return &apiv1.Record{Key: &apiv1.DeliveryKey{Node: node, Epoch: 7, Seq: seq}, Event: mustMarshal(e)}
}

func event(node, reason string) *apiv1.Event {
	return &apiv1.Event{Kind: apiv1.KindContainerExited, Node: node, Time: timestamppb.Now(), Reason: reason,
		Pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u1"}}
}

func send(t *testing.T, s apiv1.Ingest_StreamClient, b *apiv1.Batch) (*apiv1.Ack, error) {
	t.Helper()
	if err := s.Send(b); err != nil {
		t.Fatal(err)
	}
	return s.Recv()
}

func TestAViolationIsRefusedByNameAndTheStreamGoesOn(t *testing.T) {
	ts := newTestServer(t, t.TempDir(), DefaultLimits())
	s := ts.stream(t)
	huge := event("n1", strings.Repeat("x", apiv1.MaxEventBytes))
	ack, err := send(t, s, &apiv1.Batch{Id: 1, Records: []*apiv1.Record{record("n1", 1, event("n1", "a")), record("n1", 2, huge)}})
	if err != nil {
		t.Fatal(err)
	}
	if ack.Stored != 1 || ack.Rejected != 1 {
		t.Errorf("ack %v, want 1 stored and 1 rejected", ack)
	}
	if want := "exceeds the limit of 262144 bytes per event"; !strings.Contains(ack.Refusal, want) {
		t.Errorf("refusal %q does not say %q", ack.Refusal, want)
	}
	ack, err = send(t, s, &apiv1.Batch{Id: 2, Records: []*apiv1.Record{record("n1", 3, event("n1", "b"))}})
	if err != nil || ack.Stored != 1 {
		t.Fatalf("the stream did not go on after the refusal: ack %v, err %v", ack, err)
	}
	if got := testutil.ToFloat64(ts.m.rejected.WithLabelValues(rejectTooLarge)); got != 1 {
		t.Errorf("rejected{too_large} = %v, want 1", got)
	}
}

func TestAKeyBackWithAnotherBodyIsCountedAndLoggedOncePerStream(t *testing.T) {
	ts := newTestServer(t, t.TempDir(), DefaultLimits())
	s := ts.stream(t)
	resent := record("n1", 2, event("n1", "first"))
	if _, err := send(t, s, &apiv1.Batch{Id: 1, Records: []*apiv1.Record{record("n1", 1, event("n1", "first")), resent}}); err != nil {
		t.Fatal(err)
	}
	for id := uint64(2); id <= 4; id++ {
		ack, err := send(t, s, &apiv1.Batch{Id: id, Records: []*apiv1.Record{record("n1", 1, event("n1", "forged")), resent}})
		if err != nil {
			t.Fatal(err)
		}
		if ack.Duplicates != 2 {
			t.Errorf("ack %v, want 2 duplicates", ack)
		}
	}
	if got := testutil.ToFloat64(ts.m.conflicts); got != 3 {
		t.Errorf("conflicts = %v, want 3 (the identical resend is no conflict)", got)
	}
	if got := strings.Count(ts.logs.String(), "delivery key already stored with another body"); got != 1 {
		t.Errorf("logged %d times, want once per stream:\n%s", got, ts.logs.String())
	}
}

func TestStreamsPastTheLimitAreRefused(t *testing.T) {
	limits := DefaultLimits()
	limits.MaxStreams = 1
	ts := newTestServer(t, t.TempDir(), limits)
	first := ts.stream(t)
	if _, err := send(t, first, &apiv1.Batch{Id: 1, Records: []*apiv1.Record{record("n1", 1, event("n1", "a"))}}); err != nil {
		t.Fatal(err)
	}
	md, err := first.Header()
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Get(apiv1.MetaMaxBatchRecords); len(got) != 1 || got[0] != "5000" {
		t.Errorf("stream header announces max batch records %v, want [5000]", got)
	}
	second := ts.stream(t)
	if err := second.Send(&apiv1.Batch{Id: 1}); err != nil && !errors.Is(err, os.ErrClosed) {
		t.Logf("send: %v", err)
	}
	_, err = second.Recv()
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "at most 1 agent streams") {
		t.Fatalf("second stream: %v, want ResourceExhausted naming the limit", err)
	}
	first.CloseSend()
	if _, err := first.Recv(); err == nil {
		t.Fatal("first stream did not end")
	}
	// The slot is free again once the first stream has ended.
	deadline := time.Now().Add(10 * time.Second)
	for {
		third := ts.stream(t)
		_, err := send(t, third, &apiv1.Batch{Id: 2, Records: []*apiv1.Record{record("n1", 2, event("n1", "a"))}})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stream served after the first ended: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadinessFollowsStoring fills the store's file system for real: a
// small tmpfs mounted for the test.
func TestReadinessFollowsStoring(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("SKIPPED LOUDLY: cannot mount a small tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	ts := newTestServer(t, dir, DefaultLimits())
	s := ts.stream(t)
	if _, err := send(t, s, &apiv1.Batch{Id: 1, Records: []*apiv1.Record{record("n1", 1, event("n1", "a"))}}); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Ready(); err != nil {
		t.Fatalf("ready before the disk filled: %v", err)
	}
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 64<<10)); err != nil {
			break
		}
	}
	f.Close()
	var batch []*apiv1.Record
	for i := range 200 {
		batch = append(batch, record("n1", uint64(10+i), event("n1", strings.Repeat("y", 4000))))
	}
	if _, err := send(t, s, &apiv1.Batch{Id: 2, Records: batch}); status.Code(err) != codes.Unavailable {
		t.Fatalf("batch on a full disk: %v, want Unavailable", err)
	}
	if err := ts.srv.Ready(); err == nil || !strings.Contains(err.Error(), "storing agents' batches fails") {
		t.Errorf("Ready on a full disk: %v", err)
	}
	if got := testutil.ToFloat64(ts.m.storeFailures); got != 1 {
		t.Errorf("store failures = %v, want 1", got)
	}
	os.Remove(filler)
	s = ts.stream(t)
	ack, err := send(t, s, &apiv1.Batch{Id: 3, Records: batch})
	if err != nil || int(ack.Stored) != len(batch) {
		t.Fatalf("resend once space returned: ack %v, err %v", ack, err)
	}
	if err := ts.srv.Ready(); err != nil {
		t.Errorf("not ready once batches are stored again: %v", err)
	}
}
