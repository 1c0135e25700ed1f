package signals

import (
	"syscall"
	"time"
)

// Type says which probe produced an Event.
type Type uint32

// Event types, as graceline.h numbers them.
const (
	Generate Type = 1
	Deliver  Type = 2
)

// Result is the kernel's verdict on a generated signal (TRACE_SIGNAL_* in
// include/trace/events/signal.h).
type Result int32

// Signal results.
const (
	ResultDelivered Result = iota
	ResultIgnored
	ResultAlreadyPending
	ResultOverflow
	ResultLoseInfo
)

var resultNames = [...]string{"delivered", "ignored", "already_pending", "overflow", "lose_info"}

func (r Result) String() string {
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

// Event is a signal generated for, or delivered to, a task. Pid, Tid, Comm
// and MntNS describe the signal's target.
type Event struct {
	Type   Type
	Time   time.Time
	Signal syscall.Signal
	// Result and Group are set for Generate: the kernel's verdict, and
	// whether the signal was sent to the whole thread group.
	Result Result
	Group  bool
	Pid    uint32
	Tid    uint32
	MntNS  uint32
	Comm   string
	// The Sender fields are set for Generate: the task that sent it.
	SenderPid   uint32
	SenderTid   uint32
	SenderMntNS uint32
	SenderComm  string
	// SenderIsKernel is set for Generate when the kernel sent the signal on
	// its own behalf (SEND_SIG_PRIV: the OOM killer, a PID namespace's
	// teardown, a CPU-time limit); the Sender fields then name the task
	// whose context it ran in, which did not choose to send it.
	SenderIsKernel bool
	// Disposition is set for Deliver.
	Disposition Disposition
	// Threads is set for Deliver: how many threads the receiver's process
	// had. When a process exits on a signal, each of them dequeues a
	// SIGKILL.
	Threads uint32
	// Repaired counts the strings above that were not valid UTF-8 in the
	// kernel's record and had their invalid bytes replaced by U+FFFD.
	Repaired int
}
