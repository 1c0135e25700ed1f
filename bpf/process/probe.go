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

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// Probe is the loaded and attached process programs.
type Probe struct {
	objs   processObjects
	links  []link.Link
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
	for name, prog := range map[string]*ebpf.Program{
		"sched_process_exit": p.objs.SchedProcessExit,
		"sched_process_exec": p.objs.SchedProcessExec,
	} {
		l, err := probe.Attach(name, prog)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.links = append(p.links, l)
	}
	return p, nil
}

// Events routes the group's events, decoded, to handle.
func (p *Probe) Events(handle func(Event)) probe.Route {
	clock := p.shared.Clock()
	return probe.Route{
		Types: []uint32{uint32(Exit), uint32(Exec)},
		Decode: func(raw []byte) bool {
			e, ok := decode(raw, clock)
			if ok {
				handle(e)
			}
			return ok
		},
	}
}

// Close detaches and unloads the programs.
func (p *Probe) Close() error {
	var errs []error
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, p.objs.Close())
	return errors.Join(errs...)
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
