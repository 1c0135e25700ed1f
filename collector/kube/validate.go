package kube

import (
	"time"

	"github.com/graceline/graceline/internal/setting"
)

// Bounds of Config's durations. A deletion is not stuck in less than
// MinStuckAfter (the API's own updates take that long), and a stuck report
// repeated more often than MinStuckEvery only repeats itself.
const (
	MinStuckAfter  = time.Second
	MinStuckEvery  = time.Second
	MaxClusterWait = 24 * time.Hour
)

// Validate checks the durations and the queue bound. New fills in zeros
// with the defaults first; a zero given to Validate is refused, since from
// a command line it can only be a mistake.
func (c Config) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{
		{"StuckAfter", c.StuckAfter, MinStuckAfter},
		{"StuckEvery", c.StuckEvery, MinStuckEvery},
		{"FinalWait", c.FinalWait, time.Nanosecond},
		{"CheckPeriod", c.CheckPeriod, time.Millisecond},
	} {
		if d.v < d.min || d.v > MaxClusterWait {
			return setting.Invalid(d.name, d.v, "at least "+d.min.String()+" and at most "+MaxClusterWait.String())
		}
	}
	if c.QueueLimit < 1 {
		return setting.Invalid("QueueLimit", c.QueueLimit, "at least 1")
	}
	return nil
}
