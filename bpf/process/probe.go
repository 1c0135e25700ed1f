// Package process loads graceline's process probes (process exits, and
// execs that enter a container from outside: preStop hooks and kubectl
// exec) and decodes their events.
//
// The typical path is New, then probe.Shared.Run with Events until the
// context ends, then Close.
package process

import (
	"errors"
	"fmt"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// Probe is the loaded and attached process programs.
type Probe struct {
	objs   processObjects
	links  probe.Links
	shared *probe.Shared
}

// New loads the process programs into shared and attaches them to their
// raw tracepoints.
func New(shared *probe.Shared) (*Probe, error) {
	spec, err := loadProcess()
	if err != nil {
		return nil, fmt.Errorf("load process object: %w", err)
	}
	p := &Probe{shared: shared}
	if err := shared.Load(spec, nil, &p.objs); err != nil {
		return nil, err
	}
	if p.links, err = probe.AttachAll(
		probe.Program{Tracepoint: "sched_process_exit", Prog: p.objs.SchedProcessExit},
		probe.Program{Tracepoint: "sched_process_exec", Prog: p.objs.SchedProcessExec},
	); err != nil {
		p.objs.Close()
		return nil, err
	}
	return p, nil
}

// Events routes the group's events, decoded, to handle.
func (p *Probe) Events(handle func(Event)) probe.Route {
	return probe.NewRoute(p.shared.Clock(), []uint32{uint32(Exit), uint32(Exec)}, decode, handle)
}

// Close detaches and unloads the programs.
func (p *Probe) Close() error {
	return errors.Join(p.links.Close(), p.objs.Close())
}

// decode reads a record of the C side's struct event.
func decode(raw []byte, clock probe.Clock) (Event, bool) {
	r, ok := record.View[processEvent](raw)
	if !ok {
		return Event{}, false
	}
	var repaired int
	e := Event{
		Type:  Type(r.Type),
		Time:  clock.Wall(r.TsNs),
		Pid:   r.Pid,
		Tid:   r.Tid,
		MntNS: r.Mntns,
		Comm:  record.CString(r.Comm[:], &repaired),
	}
	switch e.Type {
	case Exit:
		e.Leader = r.Leader != 0
		e.ExitStatus, e.ExitSignal = record.ExitCode(r.ExitCode)
	case Exec:
		e.ParentMntNS = r.ParentMntns
		e.Argv = record.SplitArgv(record.Bytes(r.Argv[:min(int(r.ArgvLen), len(r.Argv))]), &repaired)
	default:
		return Event{}, false
	}
	e.Repaired = repaired
	return e, true
}
