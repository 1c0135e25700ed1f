// Command loadagent is the delivery tests' agent: it feeds the real spool
// and sender with numbered synthetic events, as fast as a busy node would,
// so that tests can kill it, or the collector, in the middle of a stream.
// After a crash it resumes after the last event its spool holds, so that it
// never produces an event twice: any duplicate the collector stored would be
// delivery's fault.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/agent/sender"
	"github.com/graceline/graceline/agent/spool"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/client"
)

func main() {
	var (
		opts   client.Options
		dir    = flag.String("spool-dir", "", "spool directory")
		node   = flag.String("node", "load-node", "node name")
		total  = flag.Int("total", 20000, "events to produce in all, across restarts")
		perSec = flag.Int("rate", 4000, "events produced per second")
	)
	flag.StringVar(&opts.Address, "collector", "", "collector address")
	flag.StringVar(&opts.TokenFile, "token-file", "", "agent token file")
	flag.Parse()
	opts.Role = "agent"
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, opts, *dir, *node, *total, *perSec, log); err != nil {
		log.Error("loadagent failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, opts client.Options, dir, node string, total, perSec int, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	sp, err := spool.Open(dir, spool.Options{Node: node}, reg, log)
	if err != nil {
		return err
	}
	defer sp.Close()
	conn, err := client.Dial(opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	cfg := sender.DefaultConfig()
	cfg.MaxBatchRecords = 500
	s := sender.New(conn, sp, cfg, reg, log)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()

	start, err := resume(sp)
	if err != nil {
		return err
	}
	log.Info("producing", "from", start, "to", total, "epoch", sp.Epoch())
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	step := max(1, perSec/100)
	for i := start; i < total; {
		for n := 0; n < step && i < total; n, i = n+1, i+1 {
			if err := sp.Append(Event(node, i)); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			<-done
			return nil
		case <-tick.C:
		}
	}
	log.Info("produced every event", "total", total)
	<-done
	return nil
}

// Event is the i-th synthetic event: its pod name carries i.
func Event(node string, i int) *apiv1.Event {
	return &apiv1.Event{
		Kind: apiv1.KindContainerStarted, Time: timestamppb.Now(), Node: node,
		Pod:       &apiv1.PodRef{Namespace: "load", Name: fmt.Sprintf("p-%06d", i), Uid: fmt.Sprintf("uid-%06d", i)},
		Container: &apiv1.ContainerRef{Id: fmt.Sprintf("c-%06d", i), Name: "main"},
		Process:   &apiv1.Process{Pid: int32(1000 + i)},
	}
}

// resume returns the index after the newest event in the spool.
func resume(sp *spool.Spool) (int, error) {
	rec, ok := sp.Last()
	if !ok {
		return 0, nil
	}
	var e apiv1.Event
	if err := proto.Unmarshal(rec.Event, &e); err != nil {
		return 0, fmt.Errorf("decode last spooled event: %w", err)
	}
	i, err := strconv.Atoi(strings.TrimPrefix(e.GetPod().GetName(), "p-"))
	if err != nil {
		return 0, fmt.Errorf("last spooled event %q is not a load event", e.GetPod().GetName())
	}
	return i + 1, nil
}
