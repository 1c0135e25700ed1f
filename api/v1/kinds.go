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

	KindSignalGenerated = "signal_generated"
	KindSignalDelivered = "signal_delivered"
	KindProcessExited   = "process_exited"
	// KindPreStopExec is an exec entering a container whose argv is the
	// container's preStop exec command; KindExec is any other.
	KindPreStopExec = "prestop_exec"
	KindExec        = "exec"

	// KindCNIPluginFailed is a CNI plugin run on the node that failed: its
	// process (pid, comm, argv), sandbox_id (CNI_CONTAINERID), path
	// (CNI_NETNS), exit_code (and exit_signal), and reason, which is the
	// CNI command, ": ", and the plugin's error message and details.
	KindCNIPluginFailed = "cni_plugin_failed"

	KindCgroupRemoved  = "cgroup_removed"
	KindNetNSReleased  = "netns_released"
	KindRootfsReleased = "rootfs_released"
	KindMountsReleased = "mounts_released"

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
