package kernel

import (
	"github.com/graceline/graceline/agent/cgroups"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/oom"
)

// defaultCgroupRoot is where the agent reads containers' memory cgroups.
const defaultCgroupRoot = cgroups.Root

// convertOOM fills in an oom_killed event from the OOM killer's choice of a
// victim. The task whose allocation ran the killer is its sender, marked as
// the OOM killer's context rather than a sender by choice. The container's
// memory cgroup is read here, on the source's goroutine and under no lock:
// an OOM kill is rare, and its cgroup is still there right after the kill,
// while the container's other processes hold it.
func (k *kernelSource) convertOOM(ev *apiv1.Event, e *oom.Event, ref *containerRef) {
	ev.Kind = apiv1.KindOOMKilled
	ev.Reason = apiv1.ReasonSeenByKernel
	ev.Process = &apiv1.Process{Pid: int32(e.Pid), Comm: e.Comm}
	ev.Sender = &apiv1.Sender{Pid: int32(e.TriggerPid), Comm: e.TriggerComm, Kernel: apiv1.SenderOOMKiller}
	if s, ok := k.reg.lookup(e.TriggerMntNS, e.Time); ok && !s.sandbox {
		ev.Sender.ContainerId = s.id
	}
	if ref != nil && !ref.sandbox && ref.cgroupsPath != "" && k.cgroupRoot != "" {
		ev.Memory = memoryOf(cgroups.Dirs(k.cgroupRoot, ref.cgroupsPath))
	}
}

// memoryOf reads a container's memory cgroup into an event's memory, or
// nil when dirs hold no memory cgroup (any more).
func memoryOf(dirs []string) *apiv1.Memory {
	m, ok := cgroups.ReadMemory(dirs)
	if !ok {
		return nil
	}
	return &apiv1.Memory{LimitBytes: m.Limit, UsageBytes: m.Usage, PeakBytes: m.Peak}
}
