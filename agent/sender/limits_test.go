package sender

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/metadata"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/graceline/graceline/agent/spool"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector"
	"github.com/graceline/graceline/collector/client"
	"github.com/graceline/graceline/collector/ingest"
)

func TestAnnouncedLimits(t *testing.T) {
	tests := []struct {
		name   string
		md     metadata.MD
		wantOK bool
		want   batchLimits
	}{
		{"both limits are read", metadata.Pairs(apiv1.MetaMaxBatchRecords, "100", apiv1.MetaMaxBatchBytes, "65536"), true, batchLimits{100, 65536}},
		{"a header without limits announces none", metadata.MD{}, false, batchLimits{}},
		{"a limit that is not a number announces none", metadata.Pairs(apiv1.MetaMaxBatchRecords, "many", apiv1.MetaMaxBatchBytes, "65536"), false, batchLimits{}},
		{"a limit of zero announces none", metadata.Pairs(apiv1.MetaMaxBatchRecords, "0", apiv1.MetaMaxBatchBytes, "65536"), false, batchLimits{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := announcedLimits(tt.md)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("announcedLimits = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestASenderStaysUnderTheCollectorsLimits runs a sender configured for
// batches of 5,000 records against a real collector that takes 100: the
// sender learns the limit from the stream's header, so that nothing is
// refused.
func TestASenderStaysUnderTheCollectorsLimits(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("agent "+agentToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &testCollector{dir: dir, grpc: freeAddr(t), http: freeAddr(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	limits := ingest.DefaultLimits()
	limits.MaxBatchRecords = 100
	go func() {
		done <- collector.Run(ctx, collector.Config{DataDir: dir, GRPCAddress: c.grpc, HTTPAddress: c.http, TokenFile: tokens, Ingest: limits}, quiet)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
	}()

	reg := prometheus.NewRegistry()
	sp, err := spool.Open(t.TempDir(), spool.Options{Node: "node-a"}, reg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	const total = 3000
	appendEvents(t, sp, 0, total)
	conn, err := client.Dial(client.Options{Address: c.grpc, Token: agentToken})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cfg := DefaultConfig()
	cfg.MaxBatchRecords = 5000
	cfg.Backoff = wait.Backoff{Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.5, Steps: 1 << 30, Cap: 200 * time.Millisecond}
	s := New(conn, sp, cfg, reg, quiet)
	sctx, stop := context.WithCancel(context.Background())
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		s.Run(sctx)
	}()
	defer func() {
		stop()
		<-sent
		sp.Close()
	}()
	waitFor(t, 30*time.Second, "every event acknowledged", func() bool { return testutil.ToFloat64(s.m.acked) >= total })
	if got := testutil.ToFloat64(s.m.rejected); got != 0 {
		t.Errorf("the collector refused %v events; the sender did not keep to its limit", got)
	}
	if n := c.count(t); n != total {
		t.Errorf("%d events stored, want %d", n, total)
	}
}
