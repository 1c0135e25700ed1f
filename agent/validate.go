package agent

import (
	"net"
	"time"

	"github.com/graceline/graceline/internal/setting"
)

// Bounds of the agent's own durations. A CRI call that needs more than
// MaxCRITimeout is a hung runtime, which is better reported than waited
// for; a kernel event held longer than MaxAttributionWindow would reach
// the collector after the termination it belongs to was summarised.
const (
	MaxCRITimeout        = 5 * time.Minute
	MaxAttributionWindow = time.Minute
	MaxRemovedTTL        = 10 * time.Minute
)

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
	if err := c.Pipeline.Validate(); err != nil {
		return setting.In("Pipeline", err)
	}
	return setting.In("Delivery", c.Delivery.Validate())
}

// Validate checks the eBPF source's settings, whether or not it is
// enabled: a value that makes no sense is refused either way.
func (k KernelConfig) Validate() error {
	switch {
	case k.HostPID < 1:
		return setting.Invalid("HostPID", k.HostPID, "a process id, at least 1")
	case k.AttributionWindow <= 0 || k.AttributionWindow > MaxAttributionWindow:
		return setting.Invalid("AttributionWindow", k.AttributionWindow, "more than 0 and at most "+MaxAttributionWindow.String())
	case k.RemovedTTL <= 0 || k.RemovedTTL > MaxRemovedTTL:
		return setting.Invalid("RemovedTTL", k.RemovedTTL, "more than 0 and at most "+MaxRemovedTTL.String())
	}
	return setting.In("Probe", k.Probe.Validate())
}
