package apiv1

// Event kinds, as they appear in Event.Kind and in the JSON lines.
const (
	KindContainerCreated = "container_created"
	KindContainerStarted = "container_started"
	KindContainerExited  = "container_exited"
	KindContainerStopped = "container_stopped"
	KindContainerRemoved = "container_removed"
	KindSandboxStopped   = "sandbox_stopped"
	KindSandboxRemoved   = "sandbox_removed"
)

// Kinds of the design's contract that node probes and the timeline builder
// emit. They are named here so that the collector and the CLI can recognise
// them before every source exists.
const (
	KindPrestopExec        = "prestop_exec"
	KindSignalGenerated    = "signal_generated"
	KindSignalDelivered    = "signal_delivered"
	KindProcessExited      = "process_exited"
	KindNetnsReleased      = "netns_released"
	KindCgroupRemoved      = "cgroup_removed"
	KindRootfsReleased     = "rootfs_released"
	KindMountsReleased     = "mounts_released"
	KindTerminationSummary = "termination_summary"
	KindStuck              = "stuck"
)

// KindEventsDropped reports events lost on the way to the collector; its
// drop field says how many and why.
const KindEventsDropped = "events_dropped"

// DropReasonSpoolFull is the drop reason when the agent's spool overflowed.
const DropReasonSpoolFull = "spool_full"

// Verdicts carried by termination_summary.
const (
	VerdictGraceful = "graceful"
	VerdictKilled   = "killed"
	VerdictStuck    = "stuck"
)

// Exit reasons carried by container_exited, with the meaning CRI gives them.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
	// ReasonUnknown marks an exit that happened while no source was watching
	// (for example while the runtime was down) and whose status is lost.
	ReasonUnknown = "Unknown"
)
