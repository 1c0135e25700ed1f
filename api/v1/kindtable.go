package apiv1

import "slices"

// Side says who writes the events of a kind.
type Side uint8

const (
	// SideNode: the agent on the pod's node. The collector also writes
	// termination_summary and stuck events of its own; those carry
	// SourceAPI, so the kind alone does not make them cluster-side.
	SideNode Side = iota + 1
	// SideAPI: the collector's watches of the Kubernetes API.
	SideAPI
)

// Lane says how long an agent's full spool keeps the events of a kind. The
// zero value, LaneRaw, is also what a kind outside the table gets.
type Lane uint8

const (
	// LaneRaw: the events a full spool drops first.
	LaneRaw Lane = iota
	// LanePriority: summaries, stuck reports and drop reports, which a full
	// spool keeps longest because they say the most in the least room.
	LanePriority
)

// Role is what an event of a kind says about its pod's termination, as a
// set of flags.
type Role uint8

const (
	// RoleStarts: the pod is on its way out. A container exit alone does
	// not say so: containers also exit and restart in a pod that lives on.
	RoleStarts Role = 1 << iota
	// RoleEnds: the pod is gone from the API.
	RoleEnds
	// RoleStuck: the pod is stuck now.
	RoleStuck
	// RoleVerdict: the event's verdict decides; VerdictStuck reports the pod
	// stuck, and any other verdict is final and ends the termination.
	RoleVerdict
	// RoleNodeAction: the node is working on a deletion. While one is
	// stored, the collector leaves reporting a hang to the node's agent.
	RoleNodeAction
)

// KindInfo is everything the project's rules need to know about a kind.
type KindInfo struct {
	Name string
	Side Side
	Lane Lane
	Role Role
}

// kindTable is the one home of the kinds' properties, in the order a
// termination goes through them: the agent's kinds, then the API's. The
// README's list of kinds follows this order (readme_test.go checks it).
var kindTable = []KindInfo{
	{KindContainerCreated, SideNode, LaneRaw, 0},
	{KindContainerStarted, SideNode, LaneRaw, 0},
	// Read while the container runs, long before any termination; kept
	// with the summaries, as it is rare and what the check answers from.
	{KindTerminationReadiness, SideNode, LanePriority, 0},
	{KindPreStopExec, SideNode, LaneRaw, RoleNodeAction},
	{KindExec, SideNode, LaneRaw, 0},
	{KindSignalGenerated, SideNode, LaneRaw, RoleNodeAction},
	// An OOM kill is not the node acting on a deletion: it happens to pods
	// that live on, and the kernel's SIGKILL comes just before it.
	{KindOOMKilled, SideNode, LaneRaw, 0},
	{KindSignalDelivered, SideNode, LaneRaw, 0},
	// Read by the agent after a stop signal, whose row already shows the
	// node acting.
	{KindContainerInspected, SideNode, LaneRaw, 0},
	{KindProcessExited, SideNode, LaneRaw, 0},
	{KindContainerExited, SideNode, LaneRaw, RoleNodeAction},
	{KindContainerStopped, SideNode, LaneRaw, RoleNodeAction},
	{KindSandboxStopped, SideNode, LaneRaw, RoleStarts | RoleNodeAction},
	{KindCNIPluginFailed, SideNode, LaneRaw, 0},
	{KindCgroupRemoved, SideNode, LaneRaw, 0},
	{KindNetNSReleased, SideNode, LaneRaw, 0},
	{KindRootfsReleased, SideNode, LaneRaw, 0},
	{KindMountsReleased, SideNode, LaneRaw, 0},
	{KindContainerRemoved, SideNode, LaneRaw, 0},
	// The sandbox's removal does not end a termination: the kubelet's
	// garbage collector removes a terminated pod's sandbox while a busy
	// volume can still hold the pod Terminating. The node's final summary
	// follows within seconds when nothing is held any more.
	{KindSandboxRemoved, SideNode, LaneRaw, RoleStarts},
	// A container summary's verdict is the container's: the pod lives on.
	{KindContainerSummary, SideNode, LanePriority, 0},
	{KindTerminationSummary, SideNode, LanePriority, RoleStarts | RoleVerdict | RoleNodeAction},
	{KindStuck, SideNode, LanePriority, RoleStarts | RoleStuck | RoleNodeAction},
	{KindEventsDropped, SideNode, LanePriority, 0},

	{KindDeleteRequested, SideAPI, LaneRaw, RoleStarts},
	{KindEndpointNotReady, SideAPI, LaneRaw, 0},
	{KindEndpointRemoved, SideAPI, LaneRaw, 0},
	{KindFinalizersChanged, SideAPI, LaneRaw, 0},
	{KindPodDeleted, SideAPI, LaneRaw, RoleEnds},
}

// kindIndex finds a kind's row without a scan on the event path.
var kindIndex = func() map[string]KindInfo {
	m := make(map[string]KindInfo, len(kindTable))
	for _, k := range kindTable {
		m[k.Name] = k
	}
	return m
}()

// Kinds returns every kind, in the table's order.
func Kinds() []KindInfo { return slices.Clone(kindTable) }

// LookupKind returns the properties of kind, and false for a kind that does
// not exist; its zero KindInfo has no side, LaneRaw and no role.
func LookupKind(kind string) (KindInfo, bool) {
	k, ok := kindIndex[kind]
	return k, ok
}

// IsAPIKind tells whether kind comes from the collector's API watches.
func IsAPIKind(kind string) bool { return kindIndex[kind].Side == SideAPI }

// KindLane returns the spool lane of kind's events.
func KindLane(kind string) Lane { return kindIndex[kind].Lane }

// StartsTermination tells whether an event of kind shows a pod on its way
// out.
func StartsTermination(kind string) bool { return kindIndex[kind].Role&RoleStarts != 0 }

// EndsTermination tells whether an event of kind with verdict shows the pod
// gone: its sandbox removed, the pod object deleted, or a summary with a
// final verdict.
func EndsTermination(kind, verdict string) bool {
	r := kindIndex[kind].Role
	return r&RoleEnds != 0 || r&RoleVerdict != 0 && verdict != VerdictStuck
}

// ReportsStuck tells whether an event of kind with verdict says the pod is
// stuck now.
func ReportsStuck(kind, verdict string) bool {
	r := kindIndex[kind].Role
	return r&RoleStuck != 0 || r&RoleVerdict != 0 && verdict == VerdictStuck
}

// NodeActionKinds returns the agent's kinds that show the node working on a
// deletion, in the table's order.
func NodeActionKinds() []string {
	var out []string
	for _, k := range kindTable {
		if k.Role&RoleNodeAction != 0 {
			out = append(out, k.Name)
		}
	}
	return out
}
