package kernel

import (
	"github.com/graceline/graceline/agent/record"
)

// kernelFilter is the probes' part of the recording policy
// (bpf/probe.Shared): which processes are inits, and which containers'
// windows are open.
type kernelFilter interface {
	SetInit(tgid uint32, init bool) error
	SetWindow(mntns uint32, open bool) error
	ForgetNamespace(mntns uint32) error
}

// windows opens and closes the kernel's termination windows as the
// recording policy decides, translating containers to mount namespaces
// through the registry.
type windows struct {
	reg    *registry
	filter kernelFilter
}

var _ record.Windows = windows{}

// Open is part of record.Windows.
func (w windows) Open(podUID, containerID string) { w.set(podUID, containerID, true) }

// Close is part of record.Windows.
func (w windows) Close(podUID, containerID string) { w.set(podUID, containerID, false) }

func (w windows) set(podUID, containerID string, open bool) {
	for _, ns := range w.reg.namespaces(podUID, containerID) {
		if err := w.filter.SetWindow(ns, open); err != nil {
			w.reg.log.Warn("kernel window not updated; the container's events may be sampled", "pod", podUID, "container", containerID, "open", open, "err", err)
		}
	}
}
