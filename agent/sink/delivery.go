package sink

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/graceline/graceline/agent/sender"
	"github.com/graceline/graceline/agent/spool"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/client"
	"github.com/graceline/graceline/internal/grpcwindow"
	"github.com/graceline/graceline/internal/pacer"
	"github.com/graceline/graceline/internal/setting"
)

// DeliveryConfig says where and how events reach the collector.
type DeliveryConfig struct {
	// Collector is the collector to send to; no Address means none.
	Collector client.Options
	// SpoolDir holds the durable spool.
	SpoolDir string
	// SpoolMaxBytes bounds the spool; 0 means spool.DefaultMaxBytes.
	SpoolMaxBytes int64
	// SyncInterval is how often the spool is flushed to stable storage.
	// Events survive an agent crash as soon as they are appended; this
	// bounds what a machine crash can take.
	SyncInterval time.Duration
	Sender       sender.Config
}

// delivery appends events to the spool, from which the sender streams them.
type delivery struct {
	spool   *spool.Spool
	conn    *grpc.ClientConn
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	dropped *prometheus.CounterVec
	log     *slog.Logger
	mu      sync.Mutex
	failed  bool
	// sync flushes the spool a SyncInterval after an append, and not at
	// all while nothing is appended.
	sync *pacer.Pacer
}

func startDelivery(ctx context.Context, cfg DeliveryConfig, node string, reg prometheus.Registerer, dropped *prometheus.CounterVec, log *slog.Logger) (*delivery, error) {
	if cfg.SpoolDir == "" {
		return nil, fmt.Errorf("sending to a collector needs a spool directory")
	}
	cfg.Collector.Role = "agent"
	conn, err := client.Dial(cfg.Collector, grpcwindow.Static()...)
	if err != nil {
		return nil, err
	}
	sp, err := spool.Open(cfg.SpoolDir, spool.Options{Node: node, MaxBytes: cfg.SpoolMaxBytes}, reg, log)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("open spool: %w", err)
	}
	dctx, cancel := context.WithCancel(ctx)
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = time.Second
	}
	d := &delivery{spool: sp, conn: conn, cancel: cancel, dropped: dropped, log: log, sync: pacer.New(cfg.SyncInterval)}
	dropped.WithLabelValues("spool")
	snd := sender.New(conn, sp, cfg.Sender, reg, log)
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		snd.Run(dctx)
	}()
	go func() {
		defer d.wg.Done()
		d.sync.Run(dctx, d.flush)
	}()
	log.Info("sending events to the collector", "collector", cfg.Collector.Address, "spool", cfg.SpoolDir, "epoch", sp.Epoch())
	return d, nil
}

// Emit appends e to the spool. The spool handles being full itself; an
// error here is a failing disk, counted and logged once.
func (d *delivery) Emit(e *apiv1.Event) {
	d.sync.Wake()
	if err := d.spool.Append(e); err != nil {
		d.dropped.WithLabelValues("spool").Inc()
		d.mu.Lock()
		defer d.mu.Unlock()
		if !d.failed {
			d.log.Error("spool append failed; further failures are only counted", "kind", e.Kind, "err", err)
			d.failed = true
		}
	}
}

// flush syncs the spool to stable storage.
func (d *delivery) flush() (more bool) {
	if err := d.spool.Sync(); err != nil {
		d.log.Warn("spool sync failed", "err", err)
	}
	return false
}

// close stops sending, waits for the acknowledgements in flight (briefly),
// and closes the spool.
func (d *delivery) close() {
	d.cancel()
	d.wg.Wait()
	if err := d.spool.Close(); err != nil {
		d.log.Warn("close spool", "err", err)
	}
	d.conn.Close()
}

// Bounds of the spool's sync interval.
const (
	MinSyncInterval = 10 * time.Millisecond
	MaxSyncInterval = time.Minute
)

// Validate checks the spool's bounds, and that a collector comes with a
// token and a spool to send from.
func (d DeliveryConfig) Validate() error {
	switch {
	case d.SpoolMaxBytes != 0 && d.SpoolMaxBytes < spool.MinMaxBytes:
		return setting.Invalid("SpoolMaxBytes", d.SpoolMaxBytes, "at least "+strconv.Itoa(spool.MinMaxBytes)+" bytes, or 0 for the default")
	case d.SyncInterval < MinSyncInterval || d.SyncInterval > MaxSyncInterval:
		return setting.Invalid("SyncInterval", d.SyncInterval, "at least "+MinSyncInterval.String()+" and at most "+MaxSyncInterval.String())
	case d.Collector.Address == "":
		return nil
	case d.Collector.TokenFile == "":
		return setting.Invalid("Collector.TokenFile", "", "the file of an agent token, to send to a collector")
	case d.SpoolDir == "":
		return setting.Invalid("SpoolDir", "", "a directory for the spool, to send to a collector")
	}
	return nil
}
