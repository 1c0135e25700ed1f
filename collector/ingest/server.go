package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// Inserter stores rows idempotently and durably.
type Inserter interface {
	Insert(ctx context.Context, rows []store.Row) (store.InsertResult, error)
}

// Publisher hands newly stored events to live watchers. It must not block.
type Publisher interface {
	Publish(events []*apiv1.Event)
}

// Server implements the Ingest service.
type Server struct {
	apiv1.UnimplementedIngestServer
	store   Inserter
	pub     Publisher
	metrics *Metrics
	agents  *Agents
	log     *slog.Logger
	now     func() time.Time
}

// NewServer returns an Ingest server that stores into st, publishes new
// events to pub, and notes in agents (which may be nil) which nodes stream.
func NewServer(st Inserter, pub Publisher, agents *Agents, m *Metrics, log *slog.Logger) *Server {
	return &Server{store: st, pub: pub, agents: agents, metrics: m, log: log, now: time.Now}
}

// Stream receives batches until the agent closes the stream, acknowledging
// each one after it is stored. A batch that cannot be stored ends the
// stream with Unavailable; the agent sends it again on its next stream.
func (s *Server) Stream(stream apiv1.Ingest_StreamServer) error {
	ctx := stream.Context()
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	from := "unknown"
	if p, ok := peer.FromContext(ctx); ok {
		from = p.Addr.String()
	}
	s.log.Debug("agent stream opened", "peer", from)
	node := "" // known from the first stored batch
	defer func() {
		if node != "" {
			s.agents.closed(node)
		}
	}()
	for {
		batch, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		ack, batchNode, err := s.handle(ctx, batch, from)
		if err != nil {
			return err
		}
		if batchNode != "" {
			s.agents.seen(batchNode, s.now(), node == "")
			if node == "" {
				node = batchNode
			}
		}
		if err := stream.Send(ack); err != nil {
			return err
		}
	}
}

// handle stores one batch and returns its ack and the node that sent it.
func (s *Server) handle(ctx context.Context, batch *apiv1.Batch, from string) (*apiv1.Ack, string, error) {
	d := decodeBatch(batch, s.now())
	for _, r := range d.rejected {
		s.metrics.rejected.WithLabelValues(r.reason).Inc()
		s.log.Warn("record refused; it will not be stored", "peer", from, "reason", r.reason, "err", r.err)
	}
	start := time.Now()
	res, err := s.store.Insert(ctx, d.rows)
	if err != nil {
		s.log.Error("store batch failed; the agent will resend it", "peer", from, "records", len(d.rows), "err", err)
		return nil, "", status.Errorf(codes.Unavailable, "store batch %d: %v", batch.Id, err)
	}
	s.metrics.commit.Observe(time.Since(start).Seconds())
	s.metrics.batches.Inc()
	s.metrics.stored.Add(float64(res.Stored))
	s.metrics.duplicates.Add(float64(res.Duplicates))
	if res.Stored > 0 && s.pub != nil {
		fresh := make([]*apiv1.Event, 0, res.Stored)
		for i, isNew := range res.New {
			if isNew {
				fresh = append(fresh, d.events[i])
			}
		}
		s.pub.Publish(fresh)
	}
	var node string
	if len(d.rows) > 0 {
		node = d.rows[0].Node
	}
	return &apiv1.Ack{
		BatchId:    batch.Id,
		Stored:     uint32(res.Stored),
		Duplicates: uint32(res.Duplicates),
		Rejected:   uint32(len(d.rejected)),
	}, node, nil
}
