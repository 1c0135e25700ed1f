package cni

import (
	"syscall"
	"time"
)

// Type says which probe produced an Event.
type Type uint32

// Event types, as graceline.h numbers them. A CNI plugin started (Argv,
// Env), wrote to stdout (Output) or exited (ExitStatus, ExitSignal).
const (
	Exec   Type = 5
	Output Type = 6
	Exit   Type = 7
)

// Event is one step of a CNI plugin's run. Pid is the plugin's thread-group
// id throughout.
type Event struct {
	Type Type
	Time time.Time
	Pid  uint32
	Comm string
	// Argv and Env are set for Exec: the plugin's arguments and its
	// environment, KEY=VALUE each. EnvTruncated says the environment was
	// too long and lost its first entries.
	Argv         []string
	Env          []string
	EnvTruncated bool
	// Output is set for Output: bytes the plugin wrote to stdout.
	Output []byte
	// ExitStatus and ExitSignal are set for Exit.
	ExitStatus int32
	ExitSignal syscall.Signal
	// Repaired counts the strings above that were not valid UTF-8 in the
	// kernel's record and had their invalid bytes replaced by U+FFFD.
	Repaired int
}
