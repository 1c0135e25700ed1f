package summary

import (
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// maxOthers bounds how many of a container's other processes its stop
// remembers: a forking workload's exits after the stop are all recorded,
// and only those that ran when the stop came matter.
const maxOthers = 256

// stopFacts is what the events tell of how a container's init process met
// its stop: the evidence its cause is read from. Each fact is the first of
// its kind, so that the order events arrive in (the agent's) and their time
// order (the collector's) give the same facts.
type stopFacts struct {
	// signal is the runtime's first stop signal to the init, at signalAt,
	// from sender; its result is the kernel's at generation.
	signal   *apiv1.Signal
	signalAt time.Time
	sender   *apiv1.Sender
	// comm is the init's command as the stop signal named it.
	comm string
	// killer sent the runtime's SIGKILL (Container.KilledAt).
	killer *apiv1.Sender
	// disposition is how the init took the stop signal at its first
	// delivery (default, ignored, handler), at deliveredAt; empty when no
	// delivery was seen.
	disposition string
	deliveredAt time.Time
	// kernelKill is a SIGKILL the kernel sent the init on its own behalf
	// (a dying PID namespace's init, the OOM killer), at kernelKillAt.
	kernelKill   *apiv1.Sender
	kernelKillAt time.Time
	// initExit is the init's process_exited, as the kernel saw it.
	initExit *apiv1.Event
	// inspected is the agent's reading of the container's processes right
	// after the stop signal (container_inspected).
	inspected *apiv1.Event
	// othersExited and othersSignalled are, for the container's other
	// processes, by pid, their first exit and the first signal sent to them
	// after the stop signal.
	othersExited, othersSignalled map[int32]time.Time
}

// addSignal notes a signal to one of the container's processes.
func (c *Container) addSignal(e *apiv1.Event, at time.Time) {
	if c == nil || c.Pid == 0 {
		return
	}
	s := &c.stop
	target := e.GetTarget().GetPid()
	switch {
	case fromRuntime(c, e) && !isSIGKILL(e.GetSignal()):
		if s.signal == nil {
			s.signal, s.signalAt, s.sender, s.comm = e.GetSignal(), at, e.GetSender(), e.GetTarget().GetComm()
		}
	case fromRuntime(c, e):
		if s.killer == nil {
			s.killer = e.GetSender()
		}
	case target == c.Pid && e.GetSender().GetKernel() != "" && isSIGKILL(e.GetSignal()):
		if s.kernelKill == nil {
			s.kernelKill, s.kernelKillAt = e.GetSender(), at
		}
	case target != c.Pid && target != 0 && s.signal != nil:
		s.othersSignalled = first(s.othersSignalled, target, at)
	}
}

// addDelivery notes how the init took its stop signal.
func (c *Container) addDelivery(e *apiv1.Event, at time.Time) {
	if c == nil || c.Pid == 0 || c.stop.signal == nil || c.stop.disposition != "" {
		return
	}
	if e.GetTarget().GetPid() == c.Pid && e.GetSignal().GetNumber() == c.stop.signal.GetNumber() {
		c.stop.disposition, c.stop.deliveredAt = e.Disposition, at
	}
}

// addProcessExit notes the exit of the init, or of another process once
// the stop signal came.
func (c *Container) addProcessExit(e *apiv1.Event, at time.Time) {
	if c == nil || c.Pid == 0 {
		return
	}
	switch pid := e.GetProcess().GetPid(); {
	case pid == c.Pid:
		if c.stop.initExit == nil {
			c.stop.initExit = e
		}
	case pid != 0 && c.stop.signal != nil:
		c.stop.othersExited = first(c.stop.othersExited, pid, at)
	}
}

// addInspection keeps the first reading of the container's processes.
func (c *Container) addInspection(e *apiv1.Event) {
	if c != nil && c.stop.inspected == nil {
		c.stop.inspected = e
	}
}

// first records at for pid unless pid has a time already or m is full.
func first(m map[int32]time.Time, pid int32, at time.Time) map[int32]time.Time {
	if m == nil {
		m = map[int32]time.Time{}
	}
	if _, ok := m[pid]; !ok && len(m) < maxOthers {
		m[pid] = at
	}
	return m
}

// initProcess is the init as the inspection read it; nil when it was not
// read (it had exited, or no inspection came).
func (c *Container) initProcess() *apiv1.Process {
	for _, p := range c.stop.inspected.GetProcesses() {
		if p.GetPid() == c.Pid && c.Pid != 0 {
			return p
		}
	}
	return nil
}

// StopSignal returns the runtime's first stop signal to the container's
// init process, when it came, and who sent it; ok is false when none was
// seen. Readers that draw a container's own stop (an OTLP span, say) start
// it here, so that they and its cause agree on which signal was the stop.
func (c Container) StopSignal() (at time.Time, sig *apiv1.Signal, sender *apiv1.Sender, ok bool) {
	if c.stop.signal == nil {
		return time.Time{}, nil, nil, false
	}
	return c.stop.signalAt, c.stop.signal, c.stop.sender, true
}
