package probe

import (
	"fmt"
	"time"

	"github.com/graceline/graceline/internal/setting"
)

// DefaultHistoryEvery is how often, outside its termination window, one
// event of a container's other processes passes the kernel's filter: often
// enough for a short history of what a container did before it was
// stopped, rare enough that a node of pods running shell loops costs the
// agent almost nothing.
const DefaultHistoryEvery = 10 * time.Second

// DefaultRingBytes is the ring buffer's size. The rate limit bounds what
// one container can put in it, and the reader drains it at over a hundred
// thousand events a second, so a mebibyte (several thousand events) holds
// a mass deletion's and a storm's bursts. Its pages are mapped into the
// agent twice (the second time for records that wrap around), so each
// mebibyte more is two of the agent's RSS.
const DefaultRingBytes = 1 << 20

// Bounds of Config.RingBytes.
const (
	MinRingBytes = 1 << 16
	MaxRingBytes = 1 << 28
)

// Config holds what every probe group's programs share: the host filter
// and the rate limit, whose buckets all groups spend from.
type Config struct {
	// HostMntNS is the host's mount-namespace inode; events about host
	// processes are dropped in the kernel unless IncludeHost is set.
	HostMntNS   uint32
	IncludeHost bool
	// RatePerSec and Burst bound the events per mount namespace (that is,
	// per container) so that one container's signal storm cannot flood the
	// ring buffer for the others.
	RatePerSec uint64
	Burst      uint64
	// RecordAll lets every event of a container's processes through,
	// in its termination window or not (the agent's --record all).
	RecordAll bool
	// HistoryEvery is how often one event of a container's other
	// processes passes outside its window; 0 means DefaultHistoryEvery.
	HistoryEvery time.Duration
	// RingBytes is the ring buffer's size, a power of two; 0 means
	// DefaultRingBytes.
	RingBytes uint32
}

// Validate checks that the rate limit lets events through.
func (c Config) Validate() error {
	if c.RatePerSec == 0 {
		return setting.Invalid("RatePerSec", c.RatePerSec, "at least 1 event per second")
	}
	if c.Burst == 0 {
		return setting.Invalid("Burst", c.Burst, "at least 1 event")
	}
	if c.HistoryEvery < 0 {
		return setting.Invalid("HistoryEvery", c.HistoryEvery, "0 for the default, or more")
	}
	if n := c.RingBytes; n != 0 && (n < MinRingBytes || n > MaxRingBytes || n&(n-1) != 0) {
		return setting.Invalid("RingBytes", n, fmt.Sprintf("0 for the default, or a power of two from %d to %d", MinRingBytes, MaxRingBytes))
	}
	return nil
}

// ringBytes is the ring buffer's size.
func (c Config) ringBytes() uint32 {
	if c.RingBytes == 0 {
		return DefaultRingBytes
	}
	return c.RingBytes
}

// variables are the kernel-side constants of Config, by their C names.
func (c Config) variables() map[string]any {
	every := c.HistoryEvery
	if every == 0 {
		every = DefaultHistoryEvery
	}
	return map[string]any{"host_mntns": c.HostMntNS, "include_host": flag(c.IncludeHost), "rate_per_sec": c.RatePerSec, "burst": c.Burst,
		"record_all": flag(c.RecordAll), "history_every_ns": uint64(every.Nanoseconds())}
}

// flag is a C boolean.
func flag(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
