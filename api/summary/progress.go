package summary

import (
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Held is what a pod held on the node, as its runtime reported it. Each of
// these must be released before its termination is complete.
type Held struct {
	// Cgroups holds the IDs of the containers that have a cgroup.
	Cgroups []string
	// SandboxCgroup and NetNS are set when the sandbox has its own cgroup
	// and network namespace.
	SandboxCgroup, NetNS bool
	// Mounts is set when a mounts_released event is expected (the
	// kubelet's root is watched).
	Mounts bool
}

// CompletedAt says whether, and since when, the termination is over: the
// sandbox was removed, or it stopped and everything held on the node was
// released. The kubelet removes a deleted pod's sandbox only at its next
// garbage collection, which can come a minute later; that is not part of
// the termination. Volumes still mounted are, even once the sandbox is
// gone: the kubelet keeps the pod Terminating until it has unmounted them,
// and its garbage collection does not wait for a busy one.
func (t *Termination) CompletedAt(held Held) (time.Time, bool) {
	if !t.sandboxGone.IsZero() {
		if held.Mounts && !t.sandboxStop.IsZero() {
			if !t.mountsGone {
				return time.Time{}, false
			}
			if t.mountsAt.After(t.sandboxGone) {
				return t.mountsAt, true
			}
		}
		return t.sandboxGone, true
	}
	// A stopped sandbox with no containers left to wait for is complete:
	// those that restarted before the deletion were their own terminations.
	if t.sandboxStop.IsZero() || (len(t.containers) > 0 && !t.allExited()) {
		return time.Time{}, false
	}
	for _, id := range held.Cgroups {
		if c, ok := t.containers[id]; !ok || !c.CgroupRemoved {
			return time.Time{}, false
		}
	}
	if (held.SandboxCgroup && !t.sandboxCgroupGone) || (held.NetNS && !t.netNSGone) || (held.Mounts && !t.mountsGone) {
		return time.Time{}, false
	}
	end := t.sandboxStop
	if t.lastRelease.After(end) {
		end = t.lastRelease
	}
	return end, true
}

// BlockingPhase names the phase an unfinished termination hangs in, for a
// stuck report.
func (t *Termination) BlockingPhase(held Held) string {
	switch {
	case !t.prestopStart.IsZero() && t.prestopEnd.IsZero() && t.stopSignalAt.IsZero():
		return apiv1.PhasePreStop
	case !t.allExited() && t.Killed():
		return apiv1.PhaseSIGKILL
	case !t.allExited():
		return apiv1.PhaseStopSignal
	case t.sandboxStop.IsZero() || (held.NetNS && !t.netNSGone):
		// A stopped sandbox whose network namespace is still there has
		// not finished its network teardown (CNI DEL).
		return apiv1.PhaseSandboxTeardown
	case !t.allRemoved() || t.sandboxGone.IsZero():
		return apiv1.PhaseRemoval
	default:
		return apiv1.PhaseResourceRelease
	}
}
