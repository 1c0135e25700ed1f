package timeline

import (
	"time"

	"github.com/graceline/graceline/internal/setting"
)

// Bounds of Config's durations. A negative wait means nothing; a stuck
// report repeated more often than MinStuckEvery only repeats the same
// evidence; and waits beyond a day or ten minutes would keep a pod's
// state in memory long after anyone could use it.
const (
	MaxSlack      = 24 * time.Hour
	MinStuckEvery = time.Second
	MaxStuckEvery = 24 * time.Hour
	MaxSettle     = 10 * time.Minute
	MaxTick       = time.Minute
)

// Validate checks that every duration is within its bounds.
func (c Config) Validate() error {
	for _, d := range []struct {
		name     string
		v        time.Duration
		min, max time.Duration
	}{
		{"Slack", c.Slack, 0, MaxSlack},
		{"StuckEvery", c.StuckEvery, MinStuckEvery, MaxStuckEvery},
		{"Settle", c.Settle, 0, MaxSettle},
		{"Tick", c.Tick, time.Millisecond, MaxTick},
		{"DefaultGrace", c.DefaultGrace, 0, MaxSlack},
	} {
		if d.v < d.min || d.v > d.max {
			return setting.Invalid(d.name, d.v, "at least "+d.min.String()+" and at most "+d.max.String())
		}
	}
	return nil
}
