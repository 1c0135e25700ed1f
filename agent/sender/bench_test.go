package sender

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/agent/spool"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/client"
)

// BenchmarkSpoolToCollector measures the agent's whole delivery path: b.N
// events appended to the spool on disk, streamed by the sender, and stored
// durably by a real collector over loopback.
func BenchmarkSpoolToCollector(b *testing.B) {
	c := newCollector(b)
	reg := prometheus.NewRegistry()
	sp, err := spool.Open(b.TempDir(), spool.Options{Node: "node-a"}, reg, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	conn, err := client.Dial(client.Options{Address: c.grpc, Token: agentToken})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s := New(conn, sp, DefaultConfig(), reg, quiet)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	events := make([]*apiv1.Event, b.N)
	now := time.Now()
	for i := range events {
		events[i] = &apiv1.Event{Kind: apiv1.KindContainerStarted, Node: "node-a", Time: timestamppb.New(now),
			Pod:       &apiv1.PodRef{Namespace: "ns", Name: fmt.Sprintf("web-%07d", i/8), Uid: fmt.Sprintf("6f1c2e0a-%08d", i/8)},
			Container: &apiv1.ContainerRef{Id: fmt.Sprintf("%064d", i), Name: "main"}, Process: &apiv1.Process{Pid: int32(i)}}
	}
	b.ResetTimer()
	start := time.Now()
	for _, e := range events {
		if err := sp.Append(e); err != nil {
			b.Fatal(err)
		}
	}
	for value(b, reg, "graceline_spool_acked_total") < float64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
