package process

import (
	"syscall"
	"time"
)

// Type says which probe produced an Event.
type Type uint32

// Event types, as graceline.h numbers them.
const (
	Exit Type = 3
	Exec Type = 4
)

// Event is a process's exit, or its exec into a container from outside.
// Pid, Tid, Comm and MntNS describe the process.
type Event struct {
	Type  Type
	Time  time.Time
	Pid   uint32
	Tid   uint32
	MntNS uint32
	Comm  string
	// Leader, ExitStatus and ExitSignal are set for Exit: whether the task
	// was its thread group's leader, and how it ended.
	Leader     bool
	ExitStatus int32
	ExitSignal syscall.Signal
	// Argv and ParentMntNS are set for Exec: the new program's arguments,
	// and the mount namespace of the parent it came from.
	Argv        []string
	ParentMntNS uint32
	// Repaired counts the strings above that were not valid UTF-8 in the
	// kernel's record and had their invalid bytes replaced by U+FFFD.
	Repaired int
}
