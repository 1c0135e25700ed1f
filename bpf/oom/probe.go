// Package oom loads graceline's OOM probe, which reports the OOM killer's
// victims from the oom:mark_victim tracepoint, and decodes its events.
//
// The typical path is New, then probe.Shared.Run with Events until the
// context ends, then Close.
package oom

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// ErrOldTracepoint says that the kernel's mark_victim passes the victim's
// pid rather than its task (kernels before 6.x), so the probe cannot read
// the victim's mount namespace; OOM kills then come from the runtime alone.
var ErrOldTracepoint = errors.New("oom:mark_victim does not pass the victim's task on this kernel")

// Probe is the loaded and attached OOM program.
type Probe struct {
	objs   oomObjects
	links  probe.Links
	shared *probe.Shared
}

// New loads the OOM program into shared and attaches it to the mark_victim
// raw tracepoint, after checking in the kernel's BTF that the tracepoint
// passes the victim's task: a raw tracepoint's arguments are whatever the
// kernel's prototype says, and an older kernel's pid read as a pointer
// would give garbage, not an error.
func New(shared *probe.Shared) (*Probe, error) {
	if err := checkPrototype(); err != nil {
		return nil, err
	}
	spec, err := loadOom()
	if err != nil {
		return nil, fmt.Errorf("load oom object: %w", err)
	}
	p := &Probe{shared: shared}
	if err := shared.Load(spec, nil, &p.objs); err != nil {
		return nil, err
	}
	if p.links, err = probe.AttachAll(probe.Program{Tracepoint: "mark_victim", Prog: p.objs.MarkVictim}); err != nil {
		p.objs.Close()
		return nil, err
	}
	return p, nil
}

// checkPrototype finds mark_victim's prototype in the kernel's BTF, where
// the typedef btf_trace_mark_victim is a pointer to a function whose first
// parameter is the tracepoint's context and whose second is the victim.
func checkPrototype() error {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("load kernel BTF: %w", err)
	}
	var td *btf.Typedef
	if err := spec.TypeByName("btf_trace_mark_victim", &td); err != nil {
		return fmt.Errorf("find oom:mark_victim: %w", err)
	}
	if !victimIsTask(td) {
		return ErrOldTracepoint
	}
	return nil
}

// victimIsTask tells whether a btf_trace_ typedef's first real argument is
// a struct task_struct pointer.
func victimIsTask(td *btf.Typedef) bool {
	ptr, ok := td.Type.(*btf.Pointer)
	if !ok {
		return false
	}
	fn, ok := ptr.Target.(*btf.FuncProto)
	if !ok || len(fn.Params) < 2 {
		return false
	}
	arg, ok := fn.Params[1].Type.(*btf.Pointer)
	if !ok {
		return false
	}
	s, ok := arg.Target.(*btf.Struct)
	return ok && s.Name == "task_struct"
}

// Events routes the group's events, decoded, to handle.
func (p *Probe) Events(handle func(Event)) probe.Route {
	return probe.NewRoute(p.shared.Clock(), []uint32{victimType}, decode, handle)
}

// Close detaches and unloads the program.
func (p *Probe) Close() error {
	return errors.Join(p.links.Close(), p.objs.Close())
}

// decode reads a record of the C side's struct event.
func decode(raw []byte, clock probe.Clock) (Event, bool) {
	r, ok := record.View[oomEvent](raw)
	if !ok || r.Type != victimType {
		return Event{}, false
	}
	var repaired int
	e := Event{
		Time:         clock.Wall(r.TsNs),
		Pid:          r.Pid,
		Tid:          r.Tid,
		MntNS:        r.Mntns,
		Comm:         record.CString(r.Comm[:], &repaired),
		TriggerPid:   r.TriggerPid,
		TriggerTid:   r.TriggerTid,
		TriggerMntNS: r.TriggerMntns,
		TriggerComm:  record.CString(r.TriggerComm[:], &repaired),
	}
	e.Repaired = repaired
	return e, true
}
