// Package signals loads graceline's signal probes (signals generated, with
// their sender and the kernel's verdict, and signals delivered, with the
// receiver's action) and decodes their events.
//
// The typical path is New, then probe.Shared.Run with Events until the
// context ends, then Close.
package signals

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// Twin of the C side's SIGNAL_FLAG_KERNEL.
const flagKernel = 1

// Config selects the signals the kernel side keeps.
type Config struct {
	// Signals to trace; DefaultSignals when empty.
	Signals []syscall.Signal
}

// DefaultSignals are the signals that decide a termination.
var DefaultSignals = []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGABRT}

// Probe is the loaded and attached signal programs.
type Probe struct {
	objs   signalsObjects
	links  []link.Link
	shared *probe.Shared
}

// New loads the signal programs into shared and attaches them to their raw
// tracepoints.
func New(shared *probe.Shared, cfg Config) (*Probe, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	spec, err := loadSignals()
	if err != nil {
		return nil, fmt.Errorf("load signals object: %w", err)
	}
	signals := cfg.Signals
	if len(signals) == 0 {
		signals = DefaultSignals
	}
	var mask uint64
	for _, s := range signals {
		mask |= 1 << uint(s)
	}
	p := &Probe{shared: shared}
	if err := shared.Load(spec, map[string]any{"signal_mask": mask}, &p.objs); err != nil {
		return nil, err
	}
	for name, prog := range map[string]*ebpf.Program{
		"signal_generate": p.objs.SignalGenerate,
		"signal_deliver":  p.objs.SignalDeliver,
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
		Types: []uint32{uint32(Generate), uint32(Deliver)},
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
	r, ok := record.View[signalsEvent](raw)
	if !ok || (Type(r.Type) != Generate && Type(r.Type) != Deliver) {
		return Event{}, false
	}
	var repaired int
	e := Event{
		Type:           Type(r.Type),
		Time:           clock.Wall(r.TsNs),
		Signal:         syscall.Signal(r.Sig),
		Result:         Result(r.Result),
		Group:          r.Group != 0,
		Pid:            r.Pid,
		Tid:            r.Tid,
		MntNS:          r.Mntns,
		Comm:           record.CString(r.Comm[:], &repaired),
		SenderPid:      r.SenderPid,
		SenderTid:      r.SenderTid,
		SenderMntNS:    r.SenderMntns,
		SenderComm:     record.CString(r.SenderComm[:], &repaired),
		SenderIsKernel: r.Flags&flagKernel != 0,
		Disposition:    Disposition(r.Disposition),
	}
	e.Repaired = repaired
	return e, true
}
