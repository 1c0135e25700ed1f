package sender

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/graceline/graceline/agent/spool"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector"
	"github.com/graceline/graceline/collector/client"
	"github.com/graceline/graceline/collector/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const agentToken = "agent-token-for-the-sender-tests"

// testCollector is a real collector, in process, on loopback.
type testCollector struct {
	dir, grpc, http string
	stop            func()
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newCollector(t testing.TB) *testCollector {
	t.Helper()
	c := &testCollector{dir: t.TempDir(), grpc: freeAddr(t), http: freeAddr(t)}
	tokens := filepath.Join(c.dir, "tokens")
	if err := os.WriteFile(tokens, []byte("agent "+agentToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.start(t)
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *testCollector) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- collector.Run(ctx, collector.Config{
			DataDir: c.dir, GRPCAddress: c.grpc, HTTPAddress: c.http, TokenFile: filepath.Join(c.dir, "tokens"),
		}, quiet)
	}()
	var once sync.Once
	c.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("collector: %v", err)
			}
		})
	}
	waitFor(t, 10*time.Second, "collector listening", func() bool {
		conn, err := net.Dial("tcp", c.grpc)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
}

func (c *testCollector) count(t *testing.T) int64 {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(c.dir, "graceline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.CountEvents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSender runs a sender from a new spool to addr with token.
func startSender(t *testing.T, addr, token string) (*spool.Spool, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	sp, err := spool.Open(t.TempDir(), spool.Options{Node: "node-a"}, reg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	runSender(t, sp, reg, addr, token)
	return sp, reg
}

// runSender sends from sp to addr with token until the test ends, then
// closes sp.
func runSender(t *testing.T, sp *spool.Spool, reg *prometheus.Registry, addr, token string) {
	t.Helper()
	runSenderWith(t, sp, reg, addr, token, func(*Config) {})
}

// runSenderWith is runSender with the test's settings changed by set.
func runSenderWith(t *testing.T, sp *spool.Spool, reg *prometheus.Registry, addr, token string, set func(*Config)) {
	t.Helper()
	conn, err := client.Dial(client.Options{Address: addr, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.MaxBatchRecords = 200
	set(&cfg)
	cfg.Backoff = wait.Backoff{Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.5, Steps: 1 << 30, Cap: 200 * time.Millisecond}
	s := New(conn, sp, cfg, reg, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		sp.Close()
		conn.Close()
	})
}

// base is the events' time: recent, so that retention keeps them.
var base = time.Now()

func appendEvents(t *testing.T, sp *spool.Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		e := &apiv1.Event{Kind: apiv1.KindContainerStarted, Node: "node-a", Time: timestamppb.New(base.Add(time.Duration(i))),
			Pod: &apiv1.PodRef{Namespace: "ns", Name: fmt.Sprintf("pod-%d", i), Uid: fmt.Sprintf("uid-%d", i)}}
		if err := sp.Append(e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSender(t *testing.T) {
	cases := []struct {
		name string
		// during runs while the events are appended, between halves.
		during func(t *testing.T, c *testCollector, reg *prometheus.Registry)
	}{
		{name: "every spooled event reaches the store once", during: func(*testing.T, *testCollector, *prometheus.Registry) {}},
		{
			name: "a collector restarted twice mid-stream still stores every event once",
			during: func(t *testing.T, c *testCollector, reg *prometheus.Registry) {
				for range 2 {
					broken := value(t, reg, "graceline_sender_reconnects_total")
					c.stop()
					// The collector is started again once the sender has
					// seen its stream break, not after a guessed pause.
					waitFor(t, 30*time.Second, "the sender noticing the collector is gone", func() bool {
						return value(t, reg, "graceline_sender_reconnects_total") > broken
					})
					c.start(t)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCollector(t)
			sp, reg := startSender(t, c.grpc, agentToken)
			appendEvents(t, sp, 0, 2500)
			waitFor(t, 30*time.Second, "some events stored", func() bool { return c.count(t) > 0 })
			tc.during(t, c, reg)
			appendEvents(t, sp, 2500, 2500)
			waitFor(t, 60*time.Second, "5000 events acknowledged", func() bool {
				return value(t, reg, "graceline_spool_acked_total") >= 5000
			})
			if n := c.count(t); n != 5000 {
				t.Errorf("store holds %d events, want 5000", n)
			}
		})
	}
}

// TestTrickleWaitsForTheAcknowledgementOnly: after a batch that was not
// full, the next goes out once the collector acknowledged it, not when the
// linger ends (an hour here).
func TestTrickleWaitsForTheAcknowledgementOnly(t *testing.T) {
	c := newCollector(t)
	reg := prometheus.NewRegistry()
	sp, err := spool.Open(t.TempDir(), spool.Options{Node: "node-a"}, reg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	runSenderWith(t, sp, reg, c.grpc, agentToken, func(cfg *Config) { cfg.Linger = time.Hour })
	for i := range 3 {
		appendEvents(t, sp, i, 1)
		waitFor(t, 30*time.Second, fmt.Sprintf("event %d acknowledged", i+1), func() bool {
			return value(t, reg, "graceline_spool_acked_total") >= float64(i+1)
		})
	}
}

func TestWrongTokenStoresNothing(t *testing.T) {
	c := newCollector(t)
	sp, reg := startSender(t, c.grpc, "not-the-agent-token-at-all")
	appendEvents(t, sp, 0, 10)
	waitFor(t, 10*time.Second, "the sender to retry", func() bool {
		return value(t, reg, "graceline_sender_reconnects_total") >= 2
	})
	if n := c.count(t); n != 0 {
		t.Errorf("store holds %d events sent with a wrong token", n)
	}
}

// value sums the samples of the metric family name in reg.
func value(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return v
}
