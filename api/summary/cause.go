package summary

import (
	"cmp"
	"slices"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// startSlack is how much earlier than the stop signal a process must have
// started to count as running before it. /proc gives a start to the 10 ms
// tick, and the agent dates it by the wall clock while kernel events are
// dated by the clock the agent sampled at its start: a child that the
// init's handler forks right after the signal must not pass for a worker
// that was left without it.
const startSlack = 100 * time.Millisecond

// Causes returns, for each container in name order, why it ended the way it
// did: its cause, one line of advice and the facts the cause was read from.
// The rule takes only facts that the events state; when they do not decide,
// the cause is unknown and the facts say what was seen.
func (t *Termination) Causes() []*apiv1.ContainerCause {
	cs := make([]*Container, 0, len(t.containers))
	for _, c := range t.containers {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *Container) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	out := make([]*apiv1.ContainerCause, 0, len(cs))
	for _, c := range cs {
		v := c.verdict()
		out = append(out, &apiv1.ContainerCause{
			Container: &apiv1.ContainerRef{Id: c.ID, Name: c.Name},
			Cause:     v.cause, Advice: v.advice(c), Facts: c.facts(v),
		})
	}
	return out
}

// causeVerdict is a container's cause with what it names: the worker that
// never got the signal, for one.
type causeVerdict struct {
	cause string
	// worker is the process left without the signal
	// (CauseSignalNotForwarded).
	worker *apiv1.Process
	// why says, for CauseUnknown, which fact is missing.
	why string
}

// verdict applies the rule. The ends that no stop caused come first (the
// OOM killer, a dying PID namespace, an exit on its own), then the stops:
// an exit before SIGKILL is graceful; a SIGKILL is explained by what the
// kernel did with the stop signal and what the init's signal sets said.
func (c *Container) verdict() causeVerdict {
	s := &c.stop
	exit, exited := c.exitTime()
	switch {
	case !exited && c.StoppedAt.IsZero():
		return causeVerdict{cause: apiv1.CauseUnknown, why: "no exit of the container was seen"}
	case c.oomEnded():
		return causeVerdict{cause: apiv1.CauseOOMKilled}
	case s.kernelKill != nil && c.OOM == nil && s.kernelKill.GetPid() != c.Pid && (c.KilledAt.IsZero() || s.kernelKillAt.Before(c.KilledAt)):
		return causeVerdict{cause: apiv1.CausePIDNamespaceTeardown}
	case s.initExit == nil && s.signal == nil && c.KilledAt.IsZero():
		// Without the kernel's view of the init, an exit on its own and a
		// graceful stop look alike.
		return causeVerdict{cause: apiv1.CauseUnknown, why: "no kernel event about its init process was seen (is the agent's eBPF source live?)"}
	case exited && (s.signal == nil || exit.Before(s.signalAt)) && (c.KilledAt.IsZero() || exit.Before(c.KilledAt)):
		return causeVerdict{cause: apiv1.CauseExitedBeforeStop}
	case s.signal == nil:
		// The kernel saw the init, and it did not exit before the
		// runtime's SIGKILL: that came with no stop signal.
		return causeVerdict{cause: apiv1.CauseKilledWithoutStopSignal}
	case c.KilledAt.IsZero():
		return causeVerdict{cause: apiv1.CauseExitedOnStopSignal}
	case c.stop.inspected.GetFrozen():
		return causeVerdict{cause: apiv1.CauseFrozen}
	}
	return c.killedVerdict()
}

// killedVerdict explains a stop signal that did not end the init before
// the runtime's SIGKILL.
func (c *Container) killedVerdict() causeVerdict {
	s := &c.stop
	n := s.signal.GetNumber()
	init := c.initProcess()
	switch {
	case s.signal.GetResult() == "ignored":
		// The kernel drops a signal at generation when the process ignores
		// it, and when a PID namespace's init has no handler for it: only
		// the init's signal sets tell the two apart.
		if init == nil {
			return causeVerdict{cause: apiv1.CauseUnknown, why: "the kernel dropped the stop signal at generation, which it does when the process ignores it and when a PID namespace's init has no handler; the init's signal sets were not read"}
		}
		switch d := Disposition(init, n); d {
		case DispositionIgnored, DispositionDefault:
			return causeVerdict{cause: dispositionCause(d)}
		case DispositionHandler:
			return causeVerdict{cause: apiv1.CauseUnknown, why: "the kernel dropped the stop signal at generation, yet the init catches it"}
		}
		return causeVerdict{cause: apiv1.CauseUnknown, why: "the kernel dropped the stop signal at generation, yet the init blocks it"}
	case s.disposition == "handler" && s.deliveredAt.Before(c.KilledAt):
		if w := c.unsignalledWorker(); w != nil {
			return causeVerdict{cause: apiv1.CauseSignalNotForwarded, worker: w}
		}
		return causeVerdict{cause: apiv1.CauseHandlerTooSlow}
	case s.disposition == "ignored" && s.deliveredAt.Before(c.KilledAt):
		return causeVerdict{cause: apiv1.CauseSignalIgnored}
	case s.disposition != "" && s.deliveredAt.Before(c.KilledAt):
		return causeVerdict{cause: apiv1.CauseUnknown, why: "the stop signal was delivered with the " + s.disposition + " action, yet the init lived on"}
	case init != nil && Disposition(init, n) == DispositionBlocked:
		return causeVerdict{cause: dispositionCause(DispositionBlocked)}
	case init != nil:
		return causeVerdict{cause: apiv1.CauseUnknown, why: "the stop signal was never delivered, and the init did not block it"}
	}
	return causeVerdict{cause: apiv1.CauseUnknown, why: "the stop signal was never delivered, and the init's signal sets were not read"}
}

// oomEnded says whether the OOM killer ended the container: it killed the
// init, or the container ended on its own, with a failure, after an OOM
// kill in it. A container whose init outlived the kill of a child and then
// stopped on its signal did not end by it.
func (c *Container) oomEnded() bool {
	if c.OOM == nil {
		return false
	}
	if v := c.OOM.Victim; v != nil && c.Pid != 0 && v.GetPid() == c.Pid {
		return true
	}
	exit, exited := c.exitTime()
	onItsOwn := exited && (c.stop.signal == nil || exit.Before(c.stop.signalAt)) && c.KilledAt.IsZero()
	return onItsOwn && c.ExitCode != nil && *c.ExitCode != 0
}

// unsignalledWorker is a process other than the init that ran since before
// the stop signal, was still there when SIGKILL came, and got no signal in
// between; nil when the inspection found none.
func (c *Container) unsignalledWorker() *apiv1.Process {
	s := &c.stop
	for _, p := range s.inspected.GetProcesses() {
		if p.GetPid() == c.Pid || p.GetStarted() == nil || !p.GetStarted().AsTime().Before(s.signalAt.Add(-startSlack)) {
			continue
		}
		if at, ok := s.othersExited[p.GetPid()]; ok && at.Before(c.KilledAt) {
			continue
		}
		if at, ok := s.othersSignalled[p.GetPid()]; ok && at.Before(c.KilledAt) {
			continue
		}
		return p
	}
	return nil
}

// exitTime is when the init exited: by the kernel when it saw it, which
// dates it on the same clock as the signals, else by the runtime.
func (c *Container) exitTime() (time.Time, bool) {
	if e := c.stop.initExit; e != nil {
		return e.GetTime().AsTime(), true
	}
	return c.ExitedAt, !c.ExitedAt.IsZero()
}
