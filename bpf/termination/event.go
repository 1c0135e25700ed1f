package termination

import (
	"syscall"
	"time"
)

// EventType says which probe produced an Event.
type EventType uint32

// Event types, as the kernel side numbers them.
const (
	EventSignalGenerate EventType = 1
	EventSignalDeliver  EventType = 2
	EventExit           EventType = 3
	EventExec           EventType = 4
	// A CNI plugin started (Argv, Env), wrote to stdout (Output) or exited
	// (ExitStatus, ExitSignal). Pid is its thread-group id throughout.
	EventCNIExec   EventType = 5
	EventCNIOutput EventType = 6
	EventCNIExit   EventType = 7
	// A cgroup directory whose id was registered with WatchCgroups was
	// removed (the CgroupPath, CgroupHierarchy and CgroupID fields).
	EventCgroupRmdir EventType = 8
)

// SignalResult is the kernel's verdict on a generated signal
// (TRACE_SIGNAL_* in include/trace/events/signal.h).
type SignalResult int32

// Signal results.
const (
	ResultDelivered SignalResult = iota
	ResultIgnored
	ResultAlreadyPending
	ResultOverflow
	ResultLoseInfo
)

var resultNames = [...]string{"delivered", "ignored", "already_pending", "overflow", "lose_info"}

func (r SignalResult) String() string {
	if r >= 0 && int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "unknown"
}

// Disposition is what the receiving task had set for a delivered signal.
type Disposition uint32

// Dispositions.
const (
	DispositionDefault Disposition = iota
	DispositionIgnored
	DispositionHandler
)

var dispositionNames = [...]string{"default", "ignored", "handler"}

func (d Disposition) String() string {
	if int(d) < len(dispositionNames) {
		return dispositionNames[d]
	}
	return "unknown"
}

// Event is one kernel event. Pid, Tid, Comm and MntNS describe the process
// the event is about: a signal's target, the process that exited, or the
// process that exec'd.
type Event struct {
	Type   EventType
	Time   time.Time
	Signal syscall.Signal
	// Result and Group are set for EventSignalGenerate.
	Result SignalResult
	Group  bool
	Pid    uint32
	Tid    uint32
	MntNS  uint32
	Comm   string
	// The Sender fields are set for EventSignalGenerate.
	SenderPid   uint32
	SenderTid   uint32
	SenderMntNS uint32
	SenderComm  string
	// Disposition is set for EventSignalDeliver.
	Disposition Disposition
	// Leader, ExitStatus and ExitSignal are set for EventExit.
	Leader     bool
	ExitStatus int32
	ExitSignal syscall.Signal
	// Argv and ParentMntNS are set for EventExec; Argv for EventCNIExec too.
	Argv        []string
	ParentMntNS uint32
	// Env is set for EventCNIExec: the plugin's environment, KEY=VALUE
	// each. EnvTruncated says it was too long and lost its first entries.
	Env          []string
	EnvTruncated bool
	// Output is set for EventCNIOutput: bytes the plugin wrote to stdout.
	Output []byte
	// The Cgroup fields are set for EventCgroupRmdir: the directory's path
	// from its hierarchy's root (cut at 255 bytes when CgroupPathTruncated),
	// the hierarchy's id (0 is cgroup v2's), and the cgroup's id, which is
	// the directory's inode number.
	CgroupPath          string
	CgroupPathTruncated bool
	CgroupHierarchy     int32
	CgroupID            uint64
	// Repaired counts the strings above that were not valid UTF-8 in the
	// kernel's record and had their invalid bytes replaced by U+FFFD.
	Repaired int
}
