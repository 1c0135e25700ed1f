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

// DefaultSignals are the signals that decide a termination: the runtime's
// stop signal, SIGTERM unless an image's STOPSIGNAL names another (SIGQUIT
// for nginx, SIGWINCH for httpd, SIGINT, SIGUSR1 and SIGUSR2 for others),
// SIGKILL, and those a process ends on by its own hand.
var DefaultSignals = []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGABRT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// Probe is the loaded and attached signal programs.
type Probe struct {
	objs   signalsObjects
	links  probe.Links
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
	if p.links, err = probe.AttachAll(
		probe.Program{Tracepoint: "signal_generate", Prog: p.objs.SignalGenerate},
		probe.Program{Tracepoint: "signal_deliver", Prog: p.objs.SignalDeliver},
	); err != nil {
		p.objs.Close()
		return nil, err
	}
	return p, nil
}

// Events routes the group's events, decoded, to handle.
func (p *Probe) Events(handle func(Event)) probe.Route {
	return probe.NewRoute(p.shared.Clock(), []uint32{uint32(Generate), uint32(Deliver)}, decode, handle)
}

// Close detaches and unloads the programs.
func (p *Probe) Close() error {
	return errors.Join(p.links.Close(), p.objs.Close())
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
		Threads:        r.Threads,
	}
	e.Repaired = repaired
	return e, true
}
