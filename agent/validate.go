package agent

import (
	"net"
	"time"

	"github.com/graceline/graceline/internal/setting"
)

// MaxCRITimeout bounds the agent's CRI calls: one that needs more is a
// hung runtime, which is better reported than waited for.
const MaxCRITimeout = 5 * time.Minute

// Validate checks every setting of the agent, its parts' included, and
// returns the first one out of bounds as a setting error named by its path
// in Config ("Observer.RelistPeriod").
func (c Config) Validate() error {
	switch {
	case c.CRIEndpoint == "":
		return setting.Invalid("CRIEndpoint", "", "the runtime's CRI socket")
	case c.NodeName == "":
		return setting.Invalid("NodeName", "", "the name of this node")
	case c.CRITimeout <= 0 || c.CRITimeout > MaxCRITimeout:
		return setting.Invalid("CRITimeout", c.CRITimeout, "more than 0 and at most "+MaxCRITimeout.String())
	}
	if c.Pprof && c.MetricsAddress == "" {
		return setting.Invalid("Pprof", c.Pprof, "false unless MetricsAddress is set: profiles are served there")
	}
	if c.MetricsAddress != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddress); err != nil {
			return setting.Invalid("MetricsAddress", c.MetricsAddress, `a listen address such as ":9090", or empty`)
		}
	}
	if err := c.Observer.Validate(); err != nil {
		return setting.In("Observer", err)
	}
	if err := c.Timeline.Validate(); err != nil {
		return setting.In("Timeline", err)
	}
	if err := c.Release.Validate(); err != nil {
		return setting.In("Release", err)
	}
	if err := c.Kernel.Validate(); err != nil {
		return setting.In("Kernel", err)
	}
	if err := c.Record.Validate(); err != nil {
		return setting.In("Record", err)
	}
	if err := c.Readiness.Validate(); err != nil {
		return setting.In("Readiness", err)
	}
	if err := c.Pipeline.Validate(); err != nil {
		return setting.In("Pipeline", err)
	}
	return setting.In("Delivery", c.Delivery.Validate())
}
