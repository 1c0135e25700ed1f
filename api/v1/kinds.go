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
	// KindOOMKilled is the OOM killer killing a container's process: its
	// victim (process), the task whose allocation ran the killer (sender,
	// kernel "oom_killer"), and the container's memory cgroup (memory).
	// reason says who saw it: ReasonSeenByKernel (the oom:mark_victim
	// tracepoint) or ReasonSeenByRuntime (containerd's /tasks/oom, which
	// names the container alone).
	KindOOMKilled = "oom_killed"
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

// KindContainerSummary is a container's own termination inside a pod that
// lives on (a restart: a failed probe, an OOM kill, a crash, a stop): its
// container, verdict, killed flag, exit code, phases (stop signal, SIGKILL)
// and since. It neither begins nor ends the pod's termination.
const KindContainerSummary = "container_summary"

// KindContainerInspected is what the agent read of a container's
// processes in /proc right after the runtime's stop signal to its init:
// each process (processes: pid, comm, parent, state, start, and its
// ignored, caught, blocked and pending signals), its init first, and
// whether its cgroup was frozen (frozen). It is the evidence that tells a
// PID 1 without a handler from one that ignores or blocks the signal.
const KindContainerInspected = "container_inspected"

// KindTerminationReadiness is the outcome a stop of a running container
// would have now (prediction: outcome, cause, advice, facts, whether its
// init is a shell and how many children it has), read by the agent from
// its init and the init's direct children (processes), with the stop
// signal it would get (signal) and the init's disposition for it
// (disposition). The agent emits one when the container starts and
// whenever the prediction changes.
const KindTerminationReadiness = "termination_readiness"

// KindEventsDropped reports events lost on the way to the collector; its
// drop field says how many and why.
const KindEventsDropped = "events_dropped"

// Drop reasons of events_dropped.
const (
	// DropReasonSpoolFull: the agent's spool overflowed its bound and
	// dropped its oldest undelivered events.
	DropReasonSpoolFull = "spool_full"
	// DropReasonSpoolWriteFailed: the agent could not write events to its
	// spool, typically because the spool's filesystem was full. The report
	// is written once writing works again.
	DropReasonSpoolWriteFailed = "spool_write_failed"
	// DropReasonTooLarge: an event was larger than the agent's spool takes.
	DropReasonTooLarge = "too_large"
	// DropReasonAgentQueueFull: the agent's event queue was full, and the
	// events past it never reached any of its outputs.
	DropReasonAgentQueueFull = "agent_queue_full"
	// DropReasonSpoolBufferFull: the agent's spool fell behind, and the
	// events past its buffer were never written to it.
	DropReasonSpoolBufferFull = "spool_buffer_full"
)

// Verdicts carried by termination_summary.
const (
	VerdictGraceful = "graceful"
	VerdictKilled   = "killed"
	VerdictStuck    = "stuck"
)

// Verdicts returns every verdict a termination_summary may carry; readers
// filter on these and nothing else.
func Verdicts() []string { return []string{VerdictGraceful, VerdictKilled, VerdictStuck} }

// Exit reasons carried by container_exited, with the meaning CRI gives them.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
	// ReasonUnknown marks an exit that happened while no source was watching
	// (for example while the runtime was down) and whose status is lost.
	ReasonUnknown = "Unknown"
)

// Sender.kernel values: the kernel sent a signal on its own behalf
// (SenderKernel), or it was the OOM killer (SenderOOMKiller, on oom_killed).
const (
	SenderKernel    = "kernel"
	SenderOOMKiller = "oom_killer"
)

// Reasons of oom_killed: which source reported the OOM kill.
const (
	ReasonSeenByKernel  = "kernel"
	ReasonSeenByRuntime = "runtime"
)

// Kinds seen by the collector's watches of the Kubernetes API; their source
// is SourceAPI.
const (
	// KindDeleteRequested: the pod got a deletionTimestamp.
	KindDeleteRequested = "delete_requested"
	// KindEndpointNotReady: the first moment an EndpointSlice of a Service
	// lists the pod's address as not ready.
	KindEndpointNotReady = "endpoint_not_ready"
	// KindEndpointRemoved: the pod's address left a Service's EndpointSlices.
	KindEndpointRemoved = "endpoint_removed"
	// KindFinalizersChanged: a deleting pod's finalizers changed.
	KindFinalizersChanged = "finalizers_changed"
	// KindPodDeleted: the pod object is gone from the API.
	KindPodDeleted = "pod_deleted"
)

// SourceAPI marks events from the collector's watches of the API.
const SourceAPI = "api"

// Phases of a termination_summary, in the order a termination goes through
// them on the node; each can also be a stuck report's blocking_phase.
const (
	PhasePreStop         = "prestop"
	PhaseStopSignal      = "stop_signal"
	PhaseSIGKILL         = "sigkill"
	PhaseSandboxTeardown = "sandbox_teardown"
	PhaseResourceRelease = "resource_release"
	PhaseRemoval         = "removal"
)

// Blocking phases of a stuck report that the collector makes from the
// cluster side: the node finished but finalizers hold the object, or the
// node never acted on the deletion (or the kubelet never confirmed it).
const (
	PhaseFinalizers = "finalizers"
	PhaseNode       = "node"
)
