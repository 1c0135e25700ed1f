package cri

import "time"

// ObservationKind says what a source saw happen to one sandbox or container.
type ObservationKind int

// The kinds of observation, in lifecycle order for containers and sandboxes.
const (
	ContainerCreated ObservationKind = iota
	ContainerStarted
	// ContainerExited is the container's init process exiting (containerd's
	// /tasks/exit), which the runtime may report as stopped a little later.
	ContainerExited
	// ContainerStopped is the runtime reporting the container as exited.
	ContainerStopped
	ContainerRemoved
	// ContainerOOM marks the container's cgroup as having hit its memory limit.
	ContainerOOM
	SandboxReady
	SandboxStopped
	SandboxRemoved
)

var observationNames = [...]string{"ContainerCreated", "ContainerStarted", "ContainerExited", "ContainerStopped", "ContainerRemoved", "ContainerOOM", "SandboxReady", "SandboxStopped", "SandboxRemoved"}

func (k ObservationKind) String() string {
	if int(k) < len(observationNames) {
		return observationNames[k]
	}
	return "ObservationKind(?)"
}

// Observation is one fact about a sandbox or container, from any source.
// Sources report what they see; the Tracker decides what is new.
type Observation struct {
	Kind      ObservationKind
	ID        string
	SandboxID string
	// Meta is set by sources that read the kubelet's labels (the CRI ones);
	// only those can introduce an object the Tracker has not seen.
	Meta *Meta
	// Time is when the source saw it, or the runtime's own timestamp for it.
	Time time.Time
	// CreatedAt and StartedAt carry the runtime's timestamps when known, so
	// that an object first seen late still gets its real times.
	CreatedAt time.Time
	StartedAt time.Time
	Pid       int32
	// CgroupsPath and NetNS come from a verbose status, when fetched.
	CgroupsPath string
	NetNS       string
	Exit        *Exit
	Source      string
}

// Exit is how a container's init process ended.
type Exit struct {
	Code   int32
	Reason string // as CRI reports it; empty when the source does not know
	At     time.Time
}

// Source names, as they appear in logs and metrics.
const (
	SourceRelist     = "cri_relist"
	SourceStream     = "cri_stream"
	SourceContainerd = "containerd"
	// SourceKernel is the agent's eBPF source: the exit of a container's
	// init, as the kernel saw it.
	SourceKernel = "ebpf"
)

func unixNano(ns int64) time.Time {
	if ns <= 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
