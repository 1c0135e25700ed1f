package summary

import (
	"fmt"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// advice is the one thing to change, in the words of someone woken at
// night: what the container did, and what to do about it, naming its
// process and signal.
func (v causeVerdict) advice(c *Container) string {
	sig := "SIGTERM"
	if c.stop.signal != nil {
		sig = signalName(c.stop.signal)
	}
	comm := c.initName()
	switch v.cause {
	case apiv1.CauseExitedOnStopSignal:
		return fmt.Sprintf("nothing to change: %s shut down on %s without needing SIGKILL", comm, sig)
	case apiv1.CausePID1NoHandler, apiv1.CauseSignalIgnored, apiv1.CauseSignalBlocked:
		return signalAdvice(v.cause, comm, sig, "")
	case apiv1.CauseHandlerTooSlow:
		return fmt.Sprintf("%s's %s handler was still running when SIGKILL came %s after the signal: make shutdown finish sooner, or raise terminationGracePeriodSeconds above what it needs", comm, sig, since(c.stop.signalAt, c.KilledAt))
	case apiv1.CauseSignalNotForwarded:
		return signalAdvice(v.cause, comm, sig, procName(v.worker.GetComm(), v.worker.GetPid()))
	case apiv1.CauseFrozen:
		return fmt.Sprintf("the container's cgroup was frozen, so %s could not act on %s: find what froze it (a paused container, a checkpoint, a write to the freezer) and thaw it", comm, sig)
	case apiv1.CauseKilledWithoutStopSignal:
		return "the runtime sent SIGKILL without a stop signal first: give the container a grace period (no --grace-period=0, no zero stop timeout) if it must shut down cleanly"
	case apiv1.CauseOOMKilled:
		limit := "the container's memory limit"
		if m := c.OOM.Memory; m != nil && m.LimitBytes != nil {
			limit += " (" + mib(*m.LimitBytes) + ")"
		}
		return "raise " + limit + " or make the workload use less memory: the kernel's OOM killer ended it"
	case apiv1.CauseExitedBeforeStop:
		if c.ExitCode != nil && *c.ExitCode == 0 {
			return fmt.Sprintf("%s had completed with code 0 before the stop: nothing to change if it was meant to finish", comm)
		}
		code := "a failure"
		if c.ExitCode != nil {
			code = fmt.Sprintf("code %d", *c.ExitCode)
		}
		return fmt.Sprintf("%s had exited with %s before the stop: its logs (kubectl logs --previous) say why", comm, code)
	case apiv1.CausePIDNamespaceTeardown:
		return fmt.Sprintf("the kernel killed %s when the init of its PID namespace, %s, exited: stop it before that init, or give it a PID namespace of its own", comm, procName(c.stop.kernelKill.GetComm(), c.stop.kernelKill.GetPid()))
	}
	return "the events do not decide why: read the facts, and the container's logs"
}

// signalAdvice is the advice for the causes that the init's signal sets
// decide, the same whether a summary explains a SIGKILL or a check
// predicts one: comm is the init, sig the stop signal and worker, for
// CauseSignalNotForwarded, the process left without it.
func signalAdvice(cause, comm, sig, worker string) string {
	switch cause {
	case apiv1.CausePID1NoHandler:
		return fmt.Sprintf("%s runs as PID 1 without a %s handler, so the kernel drops the signal: handle %s, exec the worker so that it is PID 1, or run an init that forwards signals (tini, dumb-init)", comm, sig, sig)
	case apiv1.CauseSignalIgnored:
		return fmt.Sprintf("%s ignores %s (trap '' TERM, SIG_IGN, or a disposition inherited from its parent): handle it and shut down instead", comm, sig)
	case apiv1.CauseSignalBlocked:
		return fmt.Sprintf("%s blocks %s, so it stays pending: unblock it, or take it with sigwait or signalfd, and shut down on it", comm, sig)
	case apiv1.CauseSignalNotForwarded:
		return fmt.Sprintf("%s took %s but never passed it to %s: exec the worker so that it gets the signal itself, or forward it (trap 'kill -TERM $child; wait $child' TERM)", comm, sig, worker)
	}
	return ""
}
