package apiv1

import "slices"

// Causes of a stuck termination, carried in a stuck report's causes (one
// per thing found holding it, with the container when it is one
// container's). Like the causes of a container's end, the set is closed,
// and a report that finds nothing it can name says StuckUnknown with the
// evidence it saw. The agent's node inspection (agent/diagnose) and the
// collector's API checks (collector/kube) find them; the advice is written
// in api/summary (stuck.go).
const (
	// StuckBusyMount: a volume of the pod cannot be unmounted because a
	// process uses it (its working directory, root or an open file is
	// inside) or another mount namespace still holds a copy.
	StuckBusyMount = "busy_mount"
	// StuckCNIDelFailing: the CNI plugin's DEL fails, so the sandbox's
	// network cannot be torn down.
	StuckCNIDelFailing = "cni_del_failing"
	// StuckShimStopped: the runtime's shim serving the pod is stopped or in
	// uninterruptible sleep, so nothing acts on the pod's containers.
	StuckShimStopped = "runtime_shim_stopped"
	// StuckRuntimeNotAnswering: the container runtime's CRI API fails.
	StuckRuntimeNotAnswering = "runtime_not_answering"
	// StuckCgroupFrozen: a container's cgroup is frozen, so its processes
	// cannot act on signals, SIGKILL included.
	StuckCgroupFrozen = "cgroup_frozen"
	// StuckUninterruptible: a process of the pod is in uninterruptible
	// sleep (D state), where not even SIGKILL ends it.
	StuckUninterruptible = "uninterruptible_sleep"
	// StuckFinalizers: the node is done, and finalizers hold the object.
	StuckFinalizers = "finalizers"
	// StuckNodeSilent: the node has not acted on, or not confirmed, the
	// deletion.
	StuckNodeSilent = "node_silent"
	// StuckUnknown: nothing found names a cause; the facts say what was
	// seen. It is CauseUnknown's word.
	StuckUnknown = "unknown"
)

// StuckCauseInfo is a stuck cause, the few words a reader sees for it, and
// the phase it blocks when that follows from the cause itself ("" when it
// is wherever the termination is: a stopped shim stops any phase).
type StuckCauseInfo struct {
	Name  string
	Title string
	Phase string
}

// stuckCauseTable is the one home of the stuck causes, from the node's
// inside out to the API. The README's list follows this order
// (stuck_test.go checks it).
var stuckCauseTable = []StuckCauseInfo{
	{StuckCgroupFrozen, "a container's cgroup is frozen", ""},
	{StuckUninterruptible, "a process is in uninterruptible sleep (D state)", ""},
	{StuckShimStopped, "the runtime's shim for the pod is stopped", ""},
	{StuckRuntimeNotAnswering, "the container runtime does not answer", ""},
	{StuckCNIDelFailing, "the CNI plugin's DEL keeps failing", PhaseSandboxTeardown},
	{StuckBusyMount, "a volume cannot be unmounted: something still uses it", PhaseResourceRelease},
	{StuckFinalizers, "finalizers hold the object after the node finished", PhaseFinalizers},
	{StuckNodeSilent, "the node has not confirmed the deletion", PhaseNode},
	{StuckUnknown, "nothing found names a cause", ""},
}

var stuckCauseIndex = func() map[string]StuckCauseInfo {
	m := make(map[string]StuckCauseInfo, len(stuckCauseTable))
	for _, c := range stuckCauseTable {
		m[c.Name] = c
	}
	return m
}()

// StuckCauses returns every stuck cause, in the table's order.
func StuckCauses() []StuckCauseInfo { return slices.Clone(stuckCauseTable) }

// LookupStuckCause returns a stuck cause's row, and false for one that does
// not exist.
func LookupStuckCause(name string) (StuckCauseInfo, bool) {
	c, ok := stuckCauseIndex[name]
	return c, ok
}
