package readiness

import (
	"time"

	"github.com/graceline/graceline/internal/setting"
)

// MaxInterval bounds the slow reads: a prediction older than a day says
// little of a container that changed meanwhile.
const MaxInterval = 24 * time.Hour

// Validate checks the schedule; zero means the default.
func (c Config) Validate() error {
	if c.Interval != 0 && (c.Interval < MinInterval || c.Interval > MaxInterval) {
		return setting.Invalid("Interval", c.Interval, "at least "+MinInterval.String()+" and at most "+MaxInterval.String())
	}
	if c.Soon < 0 || c.Soon > MaxInterval {
		return setting.Invalid("Soon", c.Soon, "at least 0s and at most "+MaxInterval.String())
	}
	return nil
}
