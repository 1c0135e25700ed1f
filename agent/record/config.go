package record

import (
	"strconv"

	"github.com/graceline/graceline/internal/setting"
)

// Modes of recording.
const (
	// ModePolicy records what the policy keeps (see the package comment).
	ModePolicy = "policy"
	// ModeAll records every event the sources produce: the firehose, for
	// chasing something the policy leaves out.
	ModeAll = "all"
)

// DefaultHistory is how many of a container's other processes' events are
// kept before its termination window: the last few seconds of a loop that
// forks every second. An ordinary one-container pod's termination is about
// 19 events of its own; with four more it stays within the goal of 25.
const DefaultHistory = 4

// MaxHistory bounds History: a node holds up to this many events per
// container for as long as the container lives.
const MaxHistory = 256

// Config chooses what the agent records.
type Config struct {
	// Mode is ModePolicy (also when empty) or ModeAll.
	Mode string
	// History is how many events of a container's other processes are
	// kept before its termination window, and shipped when it opens;
	// 0 means DefaultHistory.
	History int
}

// history is History with its default applied.
func (c Config) history() int {
	if c.History == 0 {
		return DefaultHistory
	}
	return c.History
}

// DefaultConfig returns the agent's defaults: the policy, with
// DefaultHistory.
func DefaultConfig() Config { return Config{Mode: ModePolicy, History: DefaultHistory} }

// Validate checks the mode and the history's bound.
func (c Config) Validate() error {
	switch {
	case c.Mode != "" && c.Mode != ModePolicy && c.Mode != ModeAll:
		return setting.Invalid("Mode", c.Mode, strconv.Quote(ModePolicy)+" or "+strconv.Quote(ModeAll))
	case c.History < 0 || c.History > MaxHistory:
		return setting.Invalid("History", c.History, "0 for the default, or at most "+strconv.Itoa(MaxHistory))
	}
	return nil
}
