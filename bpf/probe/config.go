package probe

import (
	"time"

	"github.com/graceline/graceline/internal/setting"
)

// DefaultHistoryEvery is how often, outside its termination window, one
// event of a container's other processes passes the kernel's filter: often
// enough for a short history of what a container did before it was
// stopped, rare enough that a node of pods running shell loops costs the
// agent almost nothing.
const DefaultHistoryEvery = 10 * time.Second

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
	return nil
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
