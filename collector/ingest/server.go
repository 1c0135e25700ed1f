package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/auth"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/internal/ratelog"
)

// Inserter stores rows idempotently and durably.
type Inserter interface {
	Insert(ctx context.Context, rows []store.Row) (store.InsertResult, error)
}

// Publisher hands newly stored events to live watchers. It must not block.
type Publisher interface {
	Publish(events []*apiv1.Event)
}

// refusalLogInterval is how often repeated refusals are summed up in the
// log, instead of one line each.
const refusalLogInterval = time.Minute

// Server implements the Ingest service.
type Server struct {
	apiv1.UnimplementedIngestServer
	store    Inserter
	pub      Publisher
	metrics  *Metrics
	agents   *Agents
	limits   Limits
	slots    chan struct{}
	health   storeHealth
	log      *slog.Logger
	refusals *ratelog.Logger
	now      func() time.Time
}

// NewServer returns an Ingest server that stores into st, publishes new
// events to pub, and notes in agents (which may be nil) which nodes stream.
// It serves at most limits.MaxStreams streams at once.
func NewServer(st Inserter, pub Publisher, agents *Agents, limits Limits, m *Metrics, log *slog.Logger) *Server {
	return &Server{
		store: st, pub: pub, agents: agents, limits: limits, metrics: m, log: log, now: time.Now,
		slots:    make(chan struct{}, limits.MaxStreams),
		refusals: ratelog.New(log, slog.LevelWarn, refusalLogInterval, nil),
	}
}

// Ready says whether batches are being stored: it fails while the latest
// attempt to store a batch failed, so that a collector whose disk is full
// or whose database is broken is taken out of service.
func (s *Server) Ready() error { return s.health.err() }

// Stream receives batches until the agent closes the stream, acknowledging
// each one after it is stored. A batch that cannot be stored ends the
// stream with Unavailable; the agent sends it again on its next stream.
func (s *Server) Stream(stream apiv1.Ingest_StreamServer) error {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		s.metrics.streamsRefused.Inc()
		s.refusals.Log("streams_full", "agent stream refused: the collector serves its maximum of agent streams", "max", s.limits.MaxStreams)
		return status.Errorf(codes.ResourceExhausted, "the collector serves at most %d agent streams at once (--max-agent-streams); retry later", s.limits.MaxStreams)
	}
	ctx := stream.Context()
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	from := "unknown"
	if p, ok := peer.FromContext(ctx); ok {
		from = p.Addr.String()
	}
	// Agents size their batches by these; an older agent ignores them.
	if err := stream.SendHeader(metadata.Pairs(
		apiv1.MetaMaxBatchRecords, strconv.Itoa(s.limits.MaxBatchRecords),
		apiv1.MetaMaxBatchBytes, strconv.Itoa(s.limits.MaxBatchBytes))); err != nil {
		return err
	}
	s.log.Debug("agent stream opened", "peer", from)
	dc := &decoder{limits: s.limits}
	// A node-bound token names the stream's node before any record does.
	if node, ok := auth.BoundNode(ctx); ok {
		dc.bound, dc.node = node, node
	}
	st := &streamState{from: from}
	defer func() {
		if st.counted {
			s.agents.closed(dc.node)
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
		dc.now = s.now()
		ack, err := s.handle(ctx, dc, st, batch)
		if err != nil {
			return err
		}
		if dc.node != "" {
			s.agents.seen(dc.node, s.now(), !st.counted)
			st.counted = true
		}
		if err := stream.Send(ack); err != nil {
			return err
		}
	}
}

// streamState is what one stream remembers between batches.
type streamState struct {
	from string
	// counted: the stream is counted open for its node in Agents.
	counted bool
	// conflictLogged: a key that came back with another body is logged
	// once per stream; a buggy or hostile agent repeats it.
	conflictLogged bool
}

// handle stores one batch and returns its ack.
func (s *Server) handle(ctx context.Context, dc *decoder, st *streamState, batch *apiv1.Batch) (*apiv1.Ack, error) {
	d := dc.batch(batch)
	for _, r := range d.rejected {
		s.metrics.rejected.WithLabelValues(r.reason).Inc()
		s.refusals.Log(r.reason, "record refused; it will not be stored", "peer", st.from, "node", dc.node, "bound_node", dc.bound, "reason", r.reason, "err", r.err)
	}
	start := time.Now()
	res, err := s.store.Insert(ctx, d.rows)
	if err != nil {
		s.health.failed(err)
		s.metrics.storeFailures.Inc()
		s.log.Error("store batch failed; the agent will resend it", "peer", st.from, "records", len(d.rows), "err", err)
		return nil, status.Errorf(codes.Unavailable, "store batch %d: %v", batch.Id, err)
	}
	s.health.stored()
	s.metrics.commit.Observe(time.Since(start).Seconds())
	s.metrics.batches.Inc()
	s.metrics.stored.Add(float64(res.Stored))
	s.metrics.duplicates.Add(float64(res.Duplicates))
	for _, c := range res.Checks {
		if c.Predicted != c.Actual {
			s.metrics.misses.WithLabelValues(closedCause(c.Predicted), closedCause(c.Actual)).Inc()
		}
	}
	if res.IdentityConflicts > 0 {
		s.metrics.identity.Add(float64(res.IdentityConflicts))
		s.refusals.Log("pod_identity", "an agent named a known pod otherwise; the pod keeps its identity", "peer", st.from, "node", dc.node, "pods", res.IdentityConflicts)
	}
	if len(res.Conflicts) > 0 {
		s.metrics.conflicts.Add(float64(len(res.Conflicts)))
		if !st.conflictLogged {
			st.conflictLogged = true
			r := d.rows[res.Conflicts[0]]
			s.log.Warn("an event came again under a delivery key already stored with another body; kept the first, counted in graceline_collector_events_key_conflict_total (logged once per stream)",
				"peer", st.from, "node", r.Node, "epoch", r.Epoch, "seq", r.Seq, "kind", r.Kind, "conflicts", len(res.Conflicts))
		}
	}
	if res.Stored > 0 && s.pub != nil {
		fresh := make([]*apiv1.Event, 0, res.Stored)
		for i, isNew := range res.New {
			if isNew {
				fresh = append(fresh, d.events[i])
			}
		}
		s.pub.Publish(fresh)
	}
	ack := &apiv1.Ack{
		BatchId:    batch.Id,
		Stored:     uint32(res.Stored),
		Duplicates: uint32(res.Duplicates),
		Rejected:   uint32(len(d.rejected)),
	}
	if len(d.rejected) > 0 {
		ack.Refusal = fmt.Sprintf("%s: %v", d.rejected[0].reason, d.rejected[0].err)
	}
	return ack, nil
}

// storeHealth remembers whether the latest batch could be stored.
type storeHealth struct {
	mu   sync.Mutex
	last error
}

func (h *storeHealth) failed(err error) {
	h.mu.Lock()
	h.last = err
	h.mu.Unlock()
}

func (h *storeHealth) stored() {
	h.mu.Lock()
	h.last = nil
	h.mu.Unlock()
}

func (h *storeHealth) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last != nil {
		return fmt.Errorf("storing agents' batches fails: %w", h.last)
	}
	return nil
}

// closedCause is cause when it is one of the closed set, else unknown: an
// agent's value never becomes a new label.
func closedCause(cause string) string {
	if _, ok := apiv1.LookupCause(cause); ok {
		return cause
	}
	return apiv1.CauseUnknown
}
