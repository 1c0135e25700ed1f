package oom

import "time"

// victimType is the type number graceline.h gives an OOM victim's record.
const victimType = 9

// Event is the OOM killer's choice of a victim, which it has just sent
// SIGKILL. Pid, Tid, Comm and MntNS describe the victim; the Trigger fields
// the task whose allocation ran the OOM killer, often the victim itself or
// another process of its container.
type Event struct {
	Time  time.Time
	Pid   uint32
	Tid   uint32
	MntNS uint32
	Comm  string

	TriggerPid   uint32
	TriggerTid   uint32
	TriggerMntNS uint32
	TriggerComm  string
	// Repaired counts the strings above that were not valid UTF-8 in the
	// kernel's record and had their invalid bytes replaced by U+FFFD.
	Repaired int
}
