// Package sender streams the spool's events to the collector: one
// long-lived gRPC stream, batches read from the spool, several in flight,
// each acknowledged by the collector once stored, and only then removed from
// the spool. A broken stream is reopened with capped exponential backoff and
// jitter, and what was in flight is sent again; the collector recognises the
// resends by their delivery keys.
package sender

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/graceline/graceline/agent/spool"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/internal/ratelog"
)

// Spool is the sender's view of the spool.
type Spool interface {
	Read(ctx context.Context, maxRecords int, maxBytes int64) (spool.Batch, error)
	Ack(m spool.Mark) error
	Rewind()
}

// Config tunes a Sender. Zero values mean the defaults.
type Config struct {
	// MaxBatchRecords and MaxBatchBytes bound one batch.
	MaxBatchRecords int
	MaxBatchBytes   int64
	// Window is how many batches may await their acknowledgement.
	Window int
	// Backoff paces reconnection; it restarts after a stream that worked.
	Backoff wait.Backoff
	// DrainTimeout is how long a shutdown waits for the acknowledgements of
	// batches in flight, so that a restart need not resend them.
	DrainTimeout time.Duration
	// Linger bounds how long the sender waits, after a batch that was not
	// full, for every batch in flight to be acknowledged before it reads
	// the next. What comes meanwhile goes out in one batch, as Nagle's
	// algorithm does: a trickle of events costs a round trip per batch, not
	// per event, and waits no longer than the collector takes to store a
	// batch. The first event after a quiet spell goes out at once.
	Linger time.Duration
}

// DefaultConfig returns the settings agents run with.
func DefaultConfig() Config {
	return Config{
		MaxBatchRecords: 1000,
		MaxBatchBytes:   4 << 20,
		Window:          8,
		Backoff:         wait.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Jitter: 0.5, Steps: 1 << 30, Cap: 30 * time.Second},
		DrainTimeout:    2 * time.Second,
		Linger:          100 * time.Millisecond,
	}
}

// Sender moves events from the spool to the collector.
type Sender struct {
	client apiv1.IngestClient
	spool  Spool
	cfg    Config
	m      *metrics
	log    *slog.Logger
	// refusals keeps a collector that refuses every record from filling
	// the agent's log: one line per reason and minute.
	refusals *ratelog.Logger
	nextID   uint64
}

// New returns a Sender over conn, a connection to the collector.
func New(conn grpc.ClientConnInterface, sp Spool, cfg Config, reg prometheus.Registerer, log *slog.Logger) *Sender {
	d := DefaultConfig()
	if cfg.MaxBatchRecords <= 0 {
		cfg.MaxBatchRecords = d.MaxBatchRecords
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = d.MaxBatchBytes
	}
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.Backoff.Duration <= 0 {
		cfg.Backoff = d.Backoff
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = d.DrainTimeout
	}
	if cfg.Linger <= 0 {
		cfg.Linger = d.Linger
	}
	return &Sender{client: apiv1.NewIngestClient(conn), spool: sp, cfg: cfg, m: newMetrics(reg), log: log,
		refusals: ratelog.New(log, slog.LevelWarn, time.Minute, nil)}
}

// Run sends until ctx ends or the spool is closed.
func (s *Sender) Run(ctx context.Context) {
	backoff := s.cfg.Backoff
	failing := false
	for {
		worked, err := s.session(ctx)
		if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
			return
		}
		s.m.reconnects.Inc()
		if worked {
			backoff = s.cfg.Backoff
		}
		d := backoff.Step()
		if !failing || worked {
			s.log.Warn("collector stream broke; reconnecting", "err", err, "retry_in", d.Round(time.Millisecond))
		} else {
			s.log.Debug("collector still unreachable", "err", err, "retry_in", d.Round(time.Millisecond))
		}
		failing = true
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// headerWait bounds the wait for a stream's header before the first batch.
const headerWait = 5 * time.Second

// pending is a batch awaiting its acknowledgement.
type pending struct {
	id   uint64
	mark spool.Mark
	n    int
}

// session runs one stream until it breaks or ctx ends. worked reports
// whether the collector acknowledged anything on it.
func (s *Sender) session(ctx context.Context) (worked bool, err error) {
	// The stream outlives ctx briefly at shutdown, to collect the
	// acknowledgements of what is in flight.
	streamCtx, cancelStream := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStream()
	stream, err := s.client.Stream(streamCtx)
	if err != nil {
		return false, fmt.Errorf("open stream: %w", err)
	}
	s.spool.Rewind()
	s.m.connected.Set(1)
	defer s.m.connected.Set(0)

	// The collector announces its batch limits in the stream's header,
	// at once. It is read aside, and waited for only headerWait: a
	// collector that sends no header before its first acknowledgement
	// must not hold up the first batch for good.
	var limits atomic.Pointer[batchLimits]
	header := make(chan struct{})
	go func() {
		defer close(header)
		if md, err := stream.Header(); err == nil {
			if l, ok := announcedLimits(md); ok {
				limits.Store(&l)
			}
		}
	}()
	select {
	case <-header:
	case <-time.After(headerWait):
	case <-ctx.Done():
	}
	inflight := make(chan pending, s.cfg.Window)
	acked := make(chan struct{}, 1)
	idle := make(chan struct{}, 1)
	recvDone := make(chan error, 1)
	readCtx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	go func() {
		err := s.receive(stream, inflight, acked, idle)
		cancelRead() // wake a send loop that waits for the spool
		recvDone <- err
	}()
	sendErr := s.sendLoop(readCtx, stream, inflight, idle, &limits)

	if ctx.Err() != nil {
		// Shutting down: let the collector answer what is in flight.
		stream.CloseSend()
		select {
		case <-recvDone:
		case <-time.After(s.cfg.DrainTimeout):
			cancelStream()
			<-recvDone
		}
		return len(acked) > 0, ctx.Err()
	}
	if sendErr != nil && !errors.Is(sendErr, context.Canceled) && !errors.Is(sendErr, io.EOF) {
		cancelStream()
		<-recvDone
		return len(acked) > 0, sendErr
	}
	// The receiver ended the session; its error says why.
	cancelStream()
	err = <-recvDone
	return len(acked) > 0, err
}

// sendLoop reads batches from the spool and sends them, keeping at most
// Window in flight, until ctx ends or sending fails. idle receives when an
// acknowledgement left none in flight.
func (s *Sender) sendLoop(ctx context.Context, stream apiv1.Ingest_StreamClient, inflight chan<- pending, idle <-chan struct{}, limits *atomic.Pointer[batchLimits]) error {
	linger := time.NewTimer(0)
	defer linger.Stop()
	for {
		records, bytes := limits.Load().within(s.cfg.MaxBatchRecords, s.cfg.MaxBatchBytes)
		b, err := s.spool.Read(ctx, records, bytes)
		if err != nil {
			return err
		}
		s.nextID++
		p := pending{id: s.nextID, mark: b.Mark, n: len(b.Records)}
		// An idle signal from before this batch must not end its wait.
		select {
		case <-idle:
		default:
		}
		select {
		case inflight <- p:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := stream.Send(&apiv1.Batch{Id: p.id, Records: b.Records}); err != nil {
			return fmt.Errorf("send batch: %w", err)
		}
		if len(b.Records) < records {
			linger.Reset(s.cfg.Linger)
			select {
			case <-idle:
			case <-linger.C:
			case <-ctx.Done():
				return ctx.Err()
			}
			linger.Stop()
		}
	}
}

// receive takes acknowledgements in order and removes their batches from
// the spool.
func (s *Sender) receive(stream apiv1.Ingest_StreamClient, inflight <-chan pending, acked, idle chan<- struct{}) error {
	for {
		ack, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("receive acknowledgement: %w", err)
		}
		var p pending
		select {
		case p = <-inflight:
		default:
			return fmt.Errorf("collector acknowledged batch %d, but none is in flight", ack.BatchId)
		}
		if ack.BatchId != p.id {
			return fmt.Errorf("collector acknowledged batch %d, expected %d", ack.BatchId, p.id)
		}
		if err := s.spool.Ack(p.mark); err != nil {
			return fmt.Errorf("acknowledge in spool: %w", err)
		}
		s.m.batches.Inc()
		s.m.acked.Add(float64(p.n))
		if ack.Rejected > 0 {
			s.m.rejected.Add(float64(ack.Rejected))
			reason, _, _ := strings.Cut(ack.Refusal, ":")
			s.refusals.Log(reason, "collector refused events for good", "events", ack.Rejected, "batch", ack.BatchId, "first_refusal", ack.Refusal)
		}
		select {
		case acked <- struct{}{}:
		default:
		}
		if len(inflight) == 0 {
			select {
			case idle <- struct{}{}:
			default:
			}
		}
	}
}
