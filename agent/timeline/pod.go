package timeline

import (
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Phase names, in the order a termination goes through them.
const (
	PhasePreStop         = apiv1.PhasePreStop
	PhaseStopSignal      = apiv1.PhaseStopSignal
	PhaseSIGKILL         = apiv1.PhaseSIGKILL
	PhaseSandboxTeardown = apiv1.PhaseSandboxTeardown
	PhaseResourceRelease = apiv1.PhaseResourceRelease
	PhaseRemoval         = apiv1.PhaseRemoval
)

type container struct {
	id, name    string
	pid         int32 // init process, from container_started
	cgroupsPath string
	cgroupGone  bool
	exitCode    *int32
	exitedAt    time.Time
	stoppedAt   time.Time
	removedAt   time.Time
	killedAt    time.Time // the runtime's SIGKILL to the init process
}

// pod is one pod's termination as it unfolds.
type pod struct {
	ref        *apiv1.PodRef
	grace      int64 // seconds; -1 unknown
	containers map[string]*container
	sandboxID  string
	sandboxPid int32
	netNS      string
	// netNSGone is set once the sandbox's network namespace is released.
	netNSGone     bool
	sandboxCgroup string
	// sandboxCgroupGone and mountsGone are set by their release events.
	sandboxCgroupGone bool
	mountsGone        bool

	start         time.Time // the termination's first sign
	prestopStart  time.Time
	prestopEnd    time.Time
	prestopPid    int32
	stopSignalAt  time.Time
	sigkillAt     time.Time
	sandboxStop   time.Time
	sandboxGone   time.Time
	lastRelease   time.Time
	firstRemoval  time.Time
	stuckReported time.Time
	notes         []string // sticky evidence worth repeating in the summary
}

func newPod(ref *apiv1.PodRef) *pod {
	return &pod{ref: ref, grace: -1, containers: map[string]*container{}}
}

func (p *pod) container(id, name string) *container {
	c, ok := p.containers[id]
	if !ok {
		c = &container{id: id, name: name}
		p.containers[id] = c
	}
	if c.name == "" {
		c.name = name
	}
	return c
}

func (p *pod) begin(at time.Time) {
	if p.start.IsZero() || at.Before(p.start) {
		p.start = at
	}
}

// note keeps the first note about each subject: the text before its first
// ": " names it, so that a later sample of the same fact does not repeat it.
func (p *pod) note(s string) {
	key, _, _ := strings.Cut(s, ": ")
	for _, n := range p.notes {
		if k, _, _ := strings.Cut(n, ": "); k == key {
			return
		}
	}
	p.notes = append(p.notes, s)
}

// lastExit is when the last container's init process exited.
func (p *pod) lastExit() time.Time {
	var last time.Time
	for _, c := range p.containers {
		if c.exitedAt.After(last) {
			last = c.exitedAt
		}
	}
	return last
}

func (p *pod) allExited() bool {
	for _, c := range p.containers {
		if c.exitedAt.IsZero() && c.stoppedAt.IsZero() {
			return false
		}
	}
	return len(p.containers) > 0
}

func (p *pod) allRemoved() bool {
	for _, c := range p.containers {
		if c.removedAt.IsZero() {
			return false
		}
	}
	return true
}

func (p *pod) killed() bool { return !p.sigkillAt.IsZero() }

// completedAt says whether, and since when, the termination is over: the
// sandbox was removed, or it stopped and everything it held on the node was
// released. The kubelet removes a deleted pod's sandbox only at its next
// garbage collection, which can come a minute later; that is not part of
// the termination.
func (p *pod) completedAt(expectMounts bool) (time.Time, bool) {
	if !p.sandboxGone.IsZero() {
		return p.sandboxGone, true
	}
	if p.sandboxStop.IsZero() || !p.allExited() {
		return time.Time{}, false
	}
	for _, c := range p.containers {
		if c.cgroupsPath != "" && !c.cgroupGone {
			return time.Time{}, false
		}
	}
	if (p.sandboxCgroup != "" && !p.sandboxCgroupGone) || (p.netNS != "" && !p.netNSGone) || (expectMounts && !p.mountsGone) {
		return time.Time{}, false
	}
	end := p.sandboxStop
	if p.lastRelease.After(end) {
		end = p.lastRelease
	}
	return end, true
}

// blockingPhase names where an unfinished termination hangs.
func (p *pod) blockingPhase() string {
	switch {
	case !p.prestopStart.IsZero() && p.prestopEnd.IsZero() && p.stopSignalAt.IsZero():
		return PhasePreStop
	case !p.allExited() && p.killed():
		return PhaseSIGKILL
	case !p.allExited():
		return PhaseStopSignal
	case p.sandboxStop.IsZero() || (p.netNS != "" && !p.netNSGone):
		// A stopped sandbox whose network namespace is still there has
		// not finished its network teardown (CNI DEL).
		return PhaseSandboxTeardown
	case !p.allRemoved() || p.sandboxGone.IsZero():
		return PhaseRemoval
	default:
		return PhaseResourceRelease
	}
}

// phases lists the phases that happened, each with its start and end.
func (p *pod) phases() []*apiv1.Phase {
	var out []*apiv1.Phase
	add := func(name string, start, end time.Time) {
		if start.IsZero() || end.IsZero() || end.Before(start) {
			return
		}
		out = append(out, &apiv1.Phase{Name: name, Start: timestamppb.New(start), End: timestamppb.New(end)})
	}
	prestopEnd := p.prestopEnd
	if prestopEnd.IsZero() {
		prestopEnd = p.stopSignalAt
	}
	add(PhasePreStop, p.prestopStart, prestopEnd)
	lastExit := p.lastExit()
	add(PhaseStopSignal, p.stopSignalAt, lastExit)
	add(PhaseSIGKILL, p.sigkillAt, lastExit)
	teardownStart := lastExit
	for _, c := range p.containers {
		if c.stoppedAt.After(teardownStart) {
			teardownStart = c.stoppedAt
		}
	}
	add(PhaseSandboxTeardown, teardownStart, p.sandboxStop)
	add(PhaseResourceRelease, p.sandboxStop, p.lastRelease)
	add(PhaseRemoval, p.firstRemoval, p.sandboxGone)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.AsTime().Before(out[j].Start.AsTime()) })
	return out
}

func (p *pod) exitCodes() map[string]int32 {
	out := map[string]int32{}
	for _, c := range p.containers {
		if c.exitCode != nil {
			out[c.name] = *c.exitCode
		}
	}
	return out
}
