package kernel

import (
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/process"
	"github.com/graceline/graceline/cri"
)

// exitQueueLen bounds the inits' exits on their way to the runtime tracker.
const exitQueueLen = 256

// Observations is the runtime tracker as the kernel source feeds it.
type Observations interface {
	Apply(cri.Observation)
}

// ReportExits has the source tell to of each container init's exit as the
// kernel sees it. The runtime reports the same exit later: containerd's
// /tasks/exit comes after its shim has reaped the process and published
// the event, a few hundred milliseconds later on a busy node, and a relist
// up to a period later. The tracker takes whichever comes first. Call it
// before Run.
//
// It does nothing when the kernel's OOM kills are not followed: an init's
// exit could then come before the runtime's report of the OOM kill that
// caused it, and be reported as an error instead of OOMKilled.
func (s *Source) ReportExits(to Observations) {
	if s.k.probe.oom == nil {
		return
	}
	s.k.exitsTo, s.k.exits = to, make(chan cri.Observation, exitQueueLen)
}

// initExited queues the runtime observation of a container init's exit;
// the caller is the ring buffer's reader, which does not wait.
func (k *kernelSource) initExited(x initExit, p *process.Event) {
	if k.exits == nil {
		return
	}
	exit := &cri.Exit{Code: exitCode(p), At: p.Time}
	if x.oomKilled {
		exit.Reason = apiv1.ReasonOOMKilled
	}
	select {
	case k.exits <- cri.Observation{Kind: cri.ContainerExited, ID: x.id, Time: p.Time, Exit: exit, Source: cri.SourceKernel}:
	default:
		// The runtime's own report of the exit follows; only its
		// promptness is lost.
		k.dropped.WithLabelValues("ebpf_queue_full").Inc()
	}
}

// exitCode is a process's exit as a container runtime reports it: the
// status, or 128 plus the signal that ended it.
func exitCode(p *process.Event) int32 {
	if p.ExitSignal != 0 {
		return 128 + int32(p.ExitSignal)
	}
	return p.ExitStatus
}
