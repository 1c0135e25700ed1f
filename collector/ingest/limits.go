package ingest

import (
	"fmt"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/internal/setting"
)

// Limits bound what one agent may make the collector hold or store.
type Limits struct {
	// MaxBatchRecords is the most records one batch may carry; those past
	// it are refused.
	MaxBatchRecords int
	// MaxBatchBytes is announced to agents as the size their batches
	// should stay under; the gRPC server refuses messages much larger.
	MaxBatchBytes int
	// MaxStreams is the most agent streams served at once.
	MaxStreams int
	// MaxClockSkew is how far in the future of the collector's clock an
	// event's time may lie.
	MaxClockSkew time.Duration
}

// Defaults for Limits. An agent sends at most 1,000 records and about
// 1 MiB a batch, over one stream; a cluster of a thousand nodes fits.
const (
	DefaultMaxBatchRecords = 5000
	DefaultMaxBatchBytes   = 4 << 20
	DefaultMaxStreams      = 1024
	DefaultMaxClockSkew    = time.Hour
)

// oldestTime is the earliest event time accepted. Nothing graceline
// observes happened before it, and an event's time must fit the store's
// int64 nanoseconds (1678–2262) without wrapping around.
var oldestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{
		MaxBatchRecords: DefaultMaxBatchRecords,
		MaxBatchBytes:   DefaultMaxBatchBytes,
		MaxStreams:      DefaultMaxStreams,
		MaxClockSkew:    DefaultMaxClockSkew,
	}
}

// Validate returns the first limit out of its range, as a setting error
// named by its field.
func (l Limits) Validate() error {
	switch {
	case l.MaxBatchRecords < 1 || l.MaxBatchRecords > 100000:
		return setting.Invalid("MaxBatchRecords", l.MaxBatchRecords, "at least 1 and at most 100000")
	case l.MaxBatchBytes < apiv1.MaxEventBytes || l.MaxBatchBytes > 64<<20:
		return setting.Invalid("MaxBatchBytes", l.MaxBatchBytes, fmt.Sprintf("at least %d (one event) and at most %d", apiv1.MaxEventBytes, 64<<20))
	case l.MaxStreams < 1:
		return setting.Invalid("MaxStreams", l.MaxStreams, "at least 1")
	case l.MaxClockSkew < time.Second || l.MaxClockSkew > 7*24*time.Hour:
		return setting.Invalid("MaxClockSkew", l.MaxClockSkew, "at least 1s and at most 168h0m0s")
	}
	return nil
}

// MaxMessageBytes is the largest gRPC message the collector should accept
// under these limits: a full batch, its framing, and one event over,
// because an agent's batch may end with the event that crossed the bound.
func (l Limits) MaxMessageBytes() int {
	return l.MaxBatchBytes + apiv1.MaxEventBytes + 64<<10
}
