package cri

import (
	"time"

	"github.com/graceline/graceline/internal/setting"
)

// Bounds of the relist periods. A relist lists every sandbox and container
// of the node, so a period below MinRelistPeriod spins the runtime (zero
// would relist without pause); above the maxima, a missed change is
// noticed too late to tell a termination's steps apart.
const (
	MinRelistPeriod       = 100 * time.Millisecond
	MaxRelistPeriod       = time.Minute
	MinSafetyRelistPeriod = time.Second
	MaxSafetyRelistPeriod = time.Hour
)

// Validate checks that the relist periods are within their bounds.
func (c Config) Validate() error {
	if c.RelistPeriod < MinRelistPeriod || c.RelistPeriod > MaxRelistPeriod {
		return setting.Invalid("RelistPeriod", c.RelistPeriod, "at least "+MinRelistPeriod.String()+" and at most "+MaxRelistPeriod.String())
	}
	if c.SafetyRelistPeriod < MinSafetyRelistPeriod || c.SafetyRelistPeriod > MaxSafetyRelistPeriod {
		return setting.Invalid("SafetyRelistPeriod", c.SafetyRelistPeriod, "at least "+MinSafetyRelistPeriod.String()+" and at most "+MaxSafetyRelistPeriod.String())
	}
	return nil
}
