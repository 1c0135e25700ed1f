package timeline

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// maxReads bounds the reads waiting for the reader: a node stopping every
// pod at once queues one per container, and a reader that falls that far
// behind would read processes long after their stop anyway.
const maxReads = 1024

// stopRead is one container whose processes are to be read because its
// stop signal came.
type stopRead struct {
	pod       *apiv1.PodRef
	container SubjectContainer
}

// readAtStop queues a read of the container that e is the runtime's stop
// signal for, once per container: what its processes do with the signal
// (catch, ignore or block it; frozen) is what tells the causes apart, and
// only a read while they live can tell it. The caller holds mu.
func (c *Correlator) readAtStop(p *pod, e *apiv1.Event) {
	id := e.GetContainer().GetId()
	if e.Kind != apiv1.KindSignalGenerated || id == "" || p.read[id] || p.own[id] {
		return
	}
	known, ok := p.term.Known(id)
	if !ok || !summary.StopSignal(known, e) {
		return
	}
	p.read[id] = true
	if len(c.reads) >= maxReads {
		// Its cause will lack the masks, and say so in its facts.
		return
	}
	c.reads = append(c.reads, stopRead{pod: p.ref, container: SubjectContainer{ID: id, Name: known.Name, Pid: known.Pid, CgroupsPath: p.cgroups[id]}})
	select {
	case c.readNow <- struct{}{}:
	default: // the reader is already woken; it takes every queued read
	}
}

// readStops reads the queued containers whenever woken, until ctx ends.
func (c *Correlator) readStops(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.readNow:
			c.ReadStops()
		}
	}
}

// ReadStops reads the processes of every container queued since its stop
// signal, outside the lock, and records and emits what was read as a
// container_inspected event. A container that has no process left (it
// exited on the signal) gives none.
func (c *Correlator) ReadStops() {
	c.mu.Lock()
	reads := c.reads
	c.reads = nil
	c.mu.Unlock()
	for _, r := range reads {
		procs, frozen := c.inspect.Processes(r.container)
		if len(procs) == 0 && !frozen {
			continue
		}
		e := &apiv1.Event{Kind: apiv1.KindContainerInspected, Time: timestamppb.New(c.now()), Node: c.node, Pod: r.pod,
			Container: &apiv1.ContainerRef{Id: r.container.ID, Name: r.container.Name}, Processes: procs, Frozen: &frozen}
		if c.keepInspection(e) {
			c.emit(e)
		}
	}
}

// keepInspection folds an inspection into its pod, as the collector will, and
// says whether the pod still terminates: one summarised meanwhile has its
// causes already, and its late inspection would only mislead a reader.
func (c *Correlator) keepInspection(e *apiv1.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pods[e.GetPod().GetUid()]
	if !ok {
		return false
	}
	p.observe(e)
	return true
}
