package probe

import "github.com/graceline/graceline/internal/setting"

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
}

// Validate checks that the rate limit lets events through.
func (c Config) Validate() error {
	if c.RatePerSec == 0 {
		return setting.Invalid("RatePerSec", c.RatePerSec, "at least 1 event per second")
	}
	if c.Burst == 0 {
		return setting.Invalid("Burst", c.Burst, "at least 1 event")
	}
	return nil
}

// variables are the kernel-side constants of Config, by their C names.
func (c Config) variables() map[string]any {
	include := uint32(0)
	if c.IncludeHost {
		include = 1
	}
	return map[string]any{"host_mntns": c.HostMntNS, "include_host": include, "rate_per_sec": c.RatePerSec, "burst": c.Burst}
}
