package summary

import (
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Container is what a pod's events tell of one of its containers.
type Container struct {
	ID, Name string
	// Pid is the container's init process, from container_started or the
	// runtime.
	Pid      int32
	ExitCode *int32
	// ExitedAt is when the init process exited, StoppedAt when the runtime
	// reported the container stopped, RemovedAt when it removed it.
	ExitedAt, StoppedAt, RemovedAt time.Time
	// KilledAt is when the runtime sent the init process SIGKILL.
	KilledAt time.Time
	// CgroupRemoved is set once the container's cgroup is gone.
	CgroupRemoved bool
	// OOM is set once the container is known to have been OOM-killed.
	OOM *OOMKill
	// stop is how its init process met its stop, for its cause.
	stop stopFacts
}

// OOMKill is what is known of a container's OOM kill: by the kernel's
// report, its victim and the container's memory; by the runtime's, or an
// exit it calls OOMKilled, the fact alone.
type OOMKill struct {
	At     time.Time
	Victim *apiv1.Process
	Memory *apiv1.Memory
}

// Termination is one pod's termination as its node events tell it, folded
// one event at a time; or, made by NewContainer, one container's
// termination inside a pod that lives on. Its zero value is not ready; use
// New or NewContainer.
type Termination struct {
	containers map[string]*Container // by runtime ID
	// container is set for a container's own termination, which ends when
	// its init process exits rather than when the sandbox stops.
	containerScope bool

	start        time.Time // the termination's first sign
	prestopStart time.Time
	prestopEnd   time.Time
	prestopPid   int32
	stopSignalAt time.Time
	sigkillAt    time.Time
	sandboxStop  time.Time
	sandboxGone  time.Time
	lastRelease  time.Time
	firstRemoval time.Time

	netNSGone, mountsGone, sandboxCgroupGone bool
	// mountsAt is when the pod's volume mounts were all released.
	mountsAt time.Time

	// lastStuck and lastProgress tell whether a stuck report is the
	// latest news of the pod.
	lastStuck, lastProgress time.Time
}

// New returns the termination of a pod nothing is known of yet.
func New() *Termination {
	return &Termination{containers: map[string]*Container{}}
}

// NewContainer returns the termination of one container, whose events are
// then the only ones added: a stop, exit or kill inside a pod whose sandbox
// stays up (a restart). Its verdict is final once the container exited.
func NewContainer(id, name string, pid int32) *Termination {
	t := New()
	t.containerScope = true
	t.Container(id, name, pid)
	return t
}

// Known returns what is known of the container with the runtime's ID id.
func (t *Termination) Known(id string) (Container, bool) {
	c, ok := t.containers[id]
	if !ok {
		return Container{}, false
	}
	return *c, true
}

// CarryOOM gives the container id an OOM kill seen before its own
// termination opened: the kernel reports the kill just before the exit that
// opens a restart's termination, and the report's victim and memory belong
// in that termination's summary.
func (t *Termination) CarryOOM(id string, oom *OOMKill) {
	c, ok := t.containers[id]
	if !ok || oom == nil || c.OOM != nil {
		return
	}
	carried := *oom
	c.OOM = &carried
}

// Forget drops a container whose termination turned out to be its own (a
// restart) from its pod's termination: the pod does not wait for it.
func (t *Termination) Forget(id string) { delete(t.containers, id) }

// Ended says whether a container's own termination is over: its init
// process exited or the runtime reported it stopped.
func (t *Termination) Ended() bool { return t.allExited() }

// Container notes a container of the pod as the runtime lists it, with its
// init process when pid is not 0. The runtime can know a container, or its
// pid, before any event names it; a signal to that pid is then recognised.
func (t *Termination) Container(id, name string, pid int32) {
	c := t.container(id, name)
	if pid > 0 {
		c.Pid = pid
	}
}

func (t *Termination) container(id, name string) *Container {
	c, ok := t.containers[id]
	if !ok {
		c = &Container{ID: id, Name: name}
		t.containers[id] = c
	}
	if c.Name == "" {
		c.Name = name
	}
	return c
}

// Containers returns a copy of what is known of each container.
func (t *Termination) Containers() []Container {
	out := make([]Container, 0, len(t.containers))
	for _, c := range t.containers {
		out = append(out, *c)
	}
	return out
}

// Add folds one of the pod's events into its termination. Events from the
// collector's API watches are the cluster side, which is not the node's
// to summarise; summaries are what this computes, not evidence for it.
func (t *Termination) Add(e *apiv1.Event) {
	at := e.GetTime().AsTime()
	switch {
	case e.Kind == apiv1.KindStuck:
		t.lastStuck = at
		return
	case e.Source == apiv1.SourceAPI, e.Kind == apiv1.KindTerminationSummary, e.Kind == apiv1.KindContainerSummary:
		return
	}
	t.lastProgress = at
	var ct *Container
	if ref := e.GetContainer(); ref != nil {
		ct = t.container(ref.Id, ref.Name)
	}
	switch e.Kind {
	case apiv1.KindContainerStarted:
		if pid := e.GetProcess().GetPid(); pid > 0 && ct != nil {
			ct.Pid = pid
		}
	case apiv1.KindPreStopExec:
		if t.prestopStart.IsZero() {
			t.prestopStart, t.prestopPid = at, e.GetProcess().GetPid()
			t.begin(at)
		}
	case apiv1.KindProcessExited:
		if pid := e.GetProcess().GetPid(); pid == t.prestopPid && pid != 0 && t.prestopEnd.IsZero() {
			t.prestopEnd = at
		}
		ct.addProcessExit(e, at)
	case apiv1.KindSignalGenerated:
		t.addSignal(ct, e, at)
		ct.addSignal(e, at)
	case apiv1.KindSignalDelivered:
		ct.addDelivery(e, at)
	case apiv1.KindContainerInspected:
		ct.addInspection(e)
	case apiv1.KindOOMKilled:
		t.addOOM(ct, e, at)
	case apiv1.KindContainerExited:
		t.addExit(ct, e, at)
	case apiv1.KindContainerStopped:
		if ct != nil {
			ct.StoppedAt = at
		}
	case apiv1.KindSandboxStopped:
		t.sandboxStop = at
		t.begin(at)
	case apiv1.KindContainerRemoved:
		if ct != nil {
			ct.RemovedAt = at
		}
		if t.firstRemoval.IsZero() {
			t.firstRemoval = at
		}
	case apiv1.KindSandboxRemoved:
		t.sandboxGone = at
		t.begin(at)
	case apiv1.KindCgroupRemoved, apiv1.KindNetNSReleased, apiv1.KindRootfsReleased, apiv1.KindMountsReleased:
		t.addRelease(ct, e.Kind, at)
	}
}

// sigkill is SIGKILL's number, for an event that names its signal by
// number only.
const sigkill = 9

// isSIGKILL says whether s is SIGKILL, by its name or its number.
func isSIGKILL(s *apiv1.Signal) bool { return s.GetName() == "SIGKILL" || s.GetNumber() == sigkill }

// fromRuntime says whether e is a signal generated for ct's init process
// from outside the container, not by the kernel on its own behalf: the
// runtime's stop signal or SIGKILL.
func fromRuntime(ct *Container, e *apiv1.Event) bool {
	return ct != nil && ct.Pid != 0 && e.Kind == apiv1.KindSignalGenerated && e.GetTarget().GetPid() == ct.Pid &&
		e.GetSender().GetContainerId() != ct.ID && e.GetSender().GetKernel() == ""
}

// StopSignal says whether e is the runtime's stop signal (any signal to
// the init from outside but SIGKILL) for the container c: the moment its
// processes are worth reading.
func StopSignal(c Container, e *apiv1.Event) bool {
	return fromRuntime(&c, e) && !isSIGKILL(e.GetSignal())
}

// addSignal records the runtime's stop signals: those aimed at a
// container's init process from outside it. This is the one rule for
// "killed": a SIGKILL that a dying PID 1 makes the kernel send the rest of
// its namespace, or one sent from inside the container, has its sender in
// the container, and an exit code of 137 alone does not say who killed. A
// signal the kernel sent on its own behalf (the OOM killer's SIGKILL) is
// not the runtime's either, whatever task's context it ran in.
func (t *Termination) addSignal(ct *Container, e *apiv1.Event, at time.Time) {
	if !fromRuntime(ct, e) {
		return
	}
	if isSIGKILL(e.GetSignal()) {
		if ct.KilledAt.IsZero() {
			ct.KilledAt = at
		}
		if t.sigkillAt.IsZero() {
			t.sigkillAt = at
		}
	} else if t.stopSignalAt.IsZero() {
		t.stopSignalAt = at
	}
	t.begin(at)
}

// addExit records a container's exit at the runtime's exit time, which is
// when it happened rather than when it was noticed.
func (t *Termination) addExit(ct *Container, e *apiv1.Event, at time.Time) {
	if ct == nil {
		return
	}
	if x := e.GetExitedAt(); x != nil {
		at = x.AsTime()
	}
	if e.ExitCode != nil {
		code := *e.ExitCode
		ct.ExitCode = &code
	}
	if e.Reason == apiv1.ReasonOOMKilled && ct.OOM == nil {
		ct.OOM = &OOMKill{At: at}
	}
	ct.ExitedAt = at
	if t.allExited() {
		t.begin(t.lastExit())
	}
}

// addOOM records a container's OOM kill. The kernel's report says the
// most (the victim, the memory), so it replaces the runtime's, and an
// OOM kill neither begins nor ends the pod's termination: it also happens
// to pods that live on.
func (t *Termination) addOOM(ct *Container, e *apiv1.Event, at time.Time) {
	if ct == nil {
		return
	}
	if ct.OOM == nil {
		ct.OOM = &OOMKill{At: at}
	}
	if e.Process != nil && ct.OOM.Victim == nil {
		ct.OOM.Victim, ct.OOM.Memory = e.Process, e.Memory
	}
}

func (t *Termination) addRelease(ct *Container, kind string, at time.Time) {
	switch {
	case kind == apiv1.KindNetNSReleased:
		t.netNSGone = true
	case kind == apiv1.KindMountsReleased:
		t.mountsGone, t.mountsAt = true, at
	case kind == apiv1.KindCgroupRemoved && ct != nil:
		ct.CgroupRemoved = true
	case kind == apiv1.KindCgroupRemoved:
		t.sandboxCgroupGone = true
	}
	if at.After(t.lastRelease) {
		t.lastRelease = at
	}
}

func (t *Termination) begin(at time.Time) {
	if t.start.IsZero() || at.Before(t.start) {
		t.start = at
	}
}

// Start is the termination's first sign: a preStop hook, a stop signal from
// the runtime, the last container's exit, or the sandbox stopping. It is
// zero while the pod runs.
func (t *Termination) Start() time.Time { return t.start }

// End is when a container's own termination ended: its init process's
// exit, or else the runtime's report that it stopped; zero before.
func (t *Termination) End() time.Time {
	var end time.Time
	for _, c := range t.containers {
		at := c.ExitedAt
		if at.IsZero() {
			at = c.StoppedAt
		}
		if at.IsZero() {
			return time.Time{}
		}
		if at.After(end) {
			end = at
		}
	}
	return end
}

// Killed says whether the runtime had to send SIGKILL to a container's
// init process.
func (t *Termination) Killed() bool { return !t.sigkillAt.IsZero() }

// lastExit is when the last container's init process exited.
func (t *Termination) lastExit() time.Time {
	var last time.Time
	for _, c := range t.containers {
		if c.ExitedAt.After(last) {
			last = c.ExitedAt
		}
	}
	return last
}

func (t *Termination) allExited() bool {
	for _, c := range t.containers {
		if c.ExitedAt.IsZero() && c.StoppedAt.IsZero() {
			return false
		}
	}
	return len(t.containers) > 0
}

func (t *Termination) allRemoved() bool {
	for _, c := range t.containers {
		if c.RemovedAt.IsZero() {
			return false
		}
	}
	return true
}
