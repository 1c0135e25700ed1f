package spool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// open opens a spool in dir with its own registry.
func open(t *testing.T, dir string, opts Options) (*Spool, *prometheus.Registry) {
	t.Helper()
	if opts.Node == "" {
		opts.Node = "node-a"
	}
	reg := prometheus.NewRegistry()
	s, err := Open(dir, opts, reg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return s, reg
}

// crash abandons s the way a killed process would: files are closed by the
// kernel, cursors and the lock are not written by the spool.
func crash(s *Spool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, l := range s.lanes {
		l.w.Close()
	}
	s.lock.Close()
}

func event(kind string, i int) *apiv1.Event {
	return &apiv1.Event{
		Kind: kind, Node: "node-a", Time: timestamppb.New(time.Unix(1700000000, int64(i))),
		Pod: &apiv1.PodRef{Namespace: "ns", Name: fmt.Sprintf("pod-%d", i), Uid: fmt.Sprintf("uid-%d", i)},
	}
}

func appendN(t *testing.T, s *Spool, kind string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Append(event(kind, i)); err != nil {
			t.Fatal(err)
		}
	}
}

// drain reads until nothing is left, acknowledging when ack is set, and
// returns the events in the order read.
func drain(t *testing.T, s *Spool, ack bool) []*apiv1.Event {
	t.Helper()
	var out []*apiv1.Event
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		b, err := s.Read(ctx, 100, 1<<20)
		cancel()
		if err != nil {
			return out
		}
		for _, r := range b.Records {
			e := new(apiv1.Event)
			if err := proto.Unmarshal(r.Event, e); err != nil {
				t.Fatalf("record %v holds no event: %v", r.Key, err)
			}
			out = append(out, e)
		}
		if ack {
			if err := s.Ack(b.Mark); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func podNames(events []*apiv1.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.GetPod().GetName())
	}
	return out
}

func counter(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}
