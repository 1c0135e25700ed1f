package apiv1

import "slices"

// Causes of a container's end, carried in the causes of termination_summary
// and container_summary. The set is closed: readers count and filter on
// these and nothing else, and a rule that cannot decide says CauseUnknown
// with the facts it saw rather than guess. The rules that pick one live in
// api/summary.
const (
	// CauseExitedOnStopSignal: the init process exited after the stop
	// signal and before the runtime needed SIGKILL.
	CauseExitedOnStopSignal = "exited_on_stop_signal"
	// CausePID1NoHandler: the init process, its PID namespace's init, had
	// the default action for the stop signal, which the kernel drops for a
	// namespace's init; SIGKILL followed at the end of the grace period.
	CausePID1NoHandler = "pid1_no_handler"
	// CauseSignalIgnored: the init process ignored the stop signal
	// (SIG_IGN).
	CauseSignalIgnored = "signal_ignored"
	// CauseSignalBlocked: the init process blocked the stop signal, which
	// stayed pending until SIGKILL.
	CauseSignalBlocked = "signal_blocked"
	// CauseHandlerTooSlow: the init process's handler took the stop signal
	// and the process was still running when the grace period ended.
	CauseHandlerTooSlow = "handler_too_slow"
	// CauseSignalNotForwarded: the init process (a shell, say) took the
	// stop signal, but a child that ran since before the stop never got a
	// signal until SIGKILL.
	CauseSignalNotForwarded = "signal_not_forwarded"
	// CauseFrozen: the container's cgroup was frozen at the stop, so its
	// processes could not act on the signal.
	CauseFrozen = "frozen"
	// CauseOOMKilled: the kernel's OOM killer ended the container.
	CauseOOMKilled = "oom_killed"
	// CauseExitedBeforeStop: the init process exited on its own before any
	// stop signal.
	CauseExitedBeforeStop = "exited_before_stop"
	// CausePIDNamespaceTeardown: the kernel killed the init process because
	// the init of the PID namespace it lives in exited (a pod sharing one
	// PID namespace).
	CausePIDNamespaceTeardown = "pid_namespace_teardown"
	// CauseKilledWithoutStopSignal: the runtime sent SIGKILL with no stop
	// signal before it.
	CauseKilledWithoutStopSignal = "killed_without_stop_signal"
	// CauseUnknown: the evidence does not decide; the facts say what was
	// seen.
	CauseUnknown = "unknown"
)

// CauseInfo is a cause and the few words a reader sees for it.
type CauseInfo struct {
	Name string
	// Title says what happened, in an on-call engineer's words.
	Title string
}

// causeTable is the one home of the causes, in the order a reader meets
// them: the good end first, then the stops that needed SIGKILL, then the
// ends that no stop caused, and unknown last. The README's list follows
// this order (readme_test.go checks it).
var causeTable = []CauseInfo{
	{CauseExitedOnStopSignal, "exited on its stop signal"},
	{CausePID1NoHandler, "PID 1 has no handler for the stop signal, so the kernel dropped it"},
	{CauseSignalIgnored, "the stop signal is ignored"},
	{CauseSignalBlocked, "the stop signal is blocked"},
	{CauseHandlerTooSlow, "the handler was still running when the grace period ended"},
	{CauseSignalNotForwarded, "the stop signal never reached the worker"},
	{CauseFrozen, "the container was frozen"},
	{CauseKilledWithoutStopSignal, "SIGKILL came without a stop signal"},
	{CauseOOMKilled, "killed by the OOM killer"},
	{CauseExitedBeforeStop, "exited on its own before the stop"},
	{CausePIDNamespaceTeardown, "killed as its PID namespace was torn down"},
	{CauseUnknown, "the evidence does not decide"},
}

var causeIndex = func() map[string]CauseInfo {
	m := make(map[string]CauseInfo, len(causeTable))
	for _, c := range causeTable {
		m[c.Name] = c
	}
	return m
}()

// Causes returns every cause, in the table's order.
func Causes() []CauseInfo { return slices.Clone(causeTable) }

// LookupCause returns a cause's row, and false for one that does not exist.
func LookupCause(name string) (CauseInfo, bool) {
	c, ok := causeIndex[name]
	return c, ok
}
