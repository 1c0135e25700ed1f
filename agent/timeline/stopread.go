package timeline

import (
	"context"
	"maps"
	"slices"

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
// signal, outside the lock. What was read waits in the pod until it
// matters (see settleInspection); a container with no process left (it
// exited on the signal) gives nothing to keep.
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
		for _, ev := range c.keepInspection(e) {
			c.emit(ev)
		}
	}
}

// keepInspection holds an inspection in its pod, and returns what is to be
// emitted now that it is there.
func (c *Correlator) keepInspection(e *apiv1.Event) []*apiv1.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pods[e.GetPod().GetUid()]
	if !ok {
		// Summarised meanwhile: its causes are given already.
		return nil
	}
	id := e.GetContainer().GetId()
	p.inspections[id] = e
	return p.settleInspection(id)
}

// settleInspection decides what becomes of the inspection held for the
// container id: once the runtime has had to SIGKILL the container, the
// inspection explains why, and it is folded into the pod and returned to
// be emitted; once the container exited on its own terms (a code other
// than SIGKILL's), the inspection is dropped, as it would only add an
// event to every graceful termination. One that never settles goes with
// the pod's summary.
// Either way the agent's summary and the collector's see the same events.
// The caller holds mu.
func (p *pod) settleInspection(id string) []*apiv1.Event {
	e, ok := p.inspections[id]
	if !ok {
		return nil
	}
	k, known := p.known(id)
	switch {
	case !known:
		delete(p.inspections, id)
	case !k.KilledAt.IsZero():
		delete(p.inspections, id)
		p.observe(e)
		return []*apiv1.Event{e}
	case k.ExitCode != nil && *k.ExitCode != exitSIGKILL:
		delete(p.inspections, id)
	}
	return nil
}

// exitSIGKILL is the exit code of a process killed by SIGKILL. The
// runtime's report of such an exit can come before the kernel's report of
// the SIGKILL that caused it, so it does not drop the inspection: the
// SIGKILL may be on its way.
const exitSIGKILL = 128 + 9

// flushInspections folds and returns every inspection still held, for a
// stuck report: the pod may never get further. The caller holds mu.
func (p *pod) flushInspections() []*apiv1.Event {
	var out []*apiv1.Event
	for _, id := range slices.Sorted(maps.Keys(p.inspections)) {
		e := p.inspections[id]
		delete(p.inspections, id)
		p.observe(e)
		out = append(out, e)
	}
	return out
}

// known is what the pod's events tell of the container id: its undecided
// stop's, its own termination's after a restart, or else the pod's.
func (p *pod) known(id string) (summary.Container, bool) {
	if ep := p.episodes[id]; ep != nil {
		return ep.term.Known(id)
	}
	if p.own[id] {
		for _, ep := range p.restarts {
			if ep.id == id {
				return ep.term.Known(id)
			}
		}
		return summary.Container{}, false
	}
	return p.term.Known(id)
}
