package kernel

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/graceline/graceline/bpf/cgroup"
	"github.com/graceline/graceline/bpf/cni"
	"github.com/graceline/graceline/bpf/oom"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/process"
	"github.com/graceline/graceline/bpf/signals"
)

// ProbeConfig selects what the kernel probes keep.
type ProbeConfig struct {
	// Config is shared by every probe group: the host filter and the rate
	// limit per container. Its HostMntNS is filled in from HostPID.
	probe.Config
	// Signals to trace; signals.DefaultSignals when empty.
	Signals []syscall.Signal
	// CNIOutput reads what CNI plugins write to stdout (their error
	// messages), at the cost of a probe on every system call's entry.
	CNIOutput bool
}

// Validate checks the signals and the rate limit.
func (c ProbeConfig) Validate() error {
	if err := (signals.Config{Signals: c.Signals}).Validate(); err != nil {
		return err
	}
	return c.Config.Validate()
}

// kernelProbes are the loaded probe groups and what they share.
type kernelProbes struct {
	shared  *probe.Shared
	signals *signals.Probe
	process *process.Probe
	cni     *cni.Probe
	// cgroup is nil when the kernel does not report removed cgroups;
	// cgroupErr says why.
	cgroup    *cgroup.Probe
	cgroupErr error
	// oom is nil when the kernel's OOM tracepoint cannot be followed; OOM
	// kills then come from the runtime alone. oomErr says why.
	oom    *oom.Probe
	oomErr error
}

// loadProbes loads every probe group. Only the cgroup and OOM groups may
// fail alone: without them, removed cgroups are polled for and OOM kills
// come from the runtime.
func loadProbes(cfg ProbeConfig) (_ *kernelProbes, err error) {
	p := &kernelProbes{}
	if p.shared, err = probe.Open(cfg.Config); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.signals, err = signals.New(p.shared, signals.Config{Signals: cfg.Signals}); err != nil {
		return nil, fmt.Errorf("load signal probes: %w", err)
	}
	if p.process, err = process.New(p.shared); err != nil {
		return nil, fmt.Errorf("load process probes: %w", err)
	}
	if p.cni, err = cni.New(p.shared, cni.Config{Output: cfg.CNIOutput}); err != nil {
		return nil, fmt.Errorf("load CNI probes: %w", err)
	}
	p.cgroup, p.cgroupErr = cgroup.New(p.shared)
	p.oom, p.oomErr = oom.New(p.shared)
	return p, nil
}

// run reads the events of every group, in the kernel's order, until ctx
// ends, and returns the number of records it could not decode.
func (p *kernelProbes) run(ctx context.Context, handle func(kernelEvent)) (uint64, error) {
	routes := []probe.Route{
		p.signals.Events(func(e signals.Event) { handle(kernelEvent{signal: &e}) }),
		p.process.Events(func(e process.Event) { handle(kernelEvent{process: &e}) }),
		p.cni.Events(func(e cni.Event) { handle(kernelEvent{cni: &e}) }),
	}
	if p.cgroup != nil {
		routes = append(routes, p.cgroup.Events(func(e cgroup.Event) { handle(kernelEvent{cgroup: &e}) }))
	}
	if p.oom != nil {
		routes = append(routes, p.oom.Events(func(e oom.Event) { handle(kernelEvent{oom: &e}) }))
	}
	return p.shared.Run(ctx, routes...)
}

// Close unloads every group that was loaded, then what they share.
func (p *kernelProbes) Close() error {
	var errs []error
	if p.signals != nil {
		errs = append(errs, p.signals.Close())
	}
	if p.process != nil {
		errs = append(errs, p.process.Close())
	}
	if p.cni != nil {
		errs = append(errs, p.cni.Close())
	}
	if p.cgroup != nil {
		errs = append(errs, p.cgroup.Close())
	}
	if p.oom != nil {
		errs = append(errs, p.oom.Close())
	}
	errs = append(errs, p.shared.Close())
	return errors.Join(errs...)
}

// kernelEvent is one event of a probe group; exactly one field is set.
type kernelEvent struct {
	signal  *signals.Event
	process *process.Event
	cni     *cni.Event
	cgroup  *cgroup.Event
	oom     *oom.Event
}

// subject returns the mount namespace and time of a signal, process or OOM
// event, those that are attributed to a container.
func (e kernelEvent) subject() (mntns uint32, at time.Time) {
	switch {
	case e.signal != nil:
		return e.signal.MntNS, e.signal.Time
	case e.process != nil:
		return e.process.MntNS, e.process.Time
	case e.oom != nil:
		return e.oom.MntNS, e.oom.Time
	}
	return 0, time.Time{}
}

// repaired counts the event's strings that were not valid UTF-8.
func (e kernelEvent) repaired() int {
	switch {
	case e.signal != nil:
		return e.signal.Repaired
	case e.process != nil:
		return e.process.Repaired
	case e.cni != nil:
		return e.cni.Repaired
	case e.cgroup != nil:
		return e.cgroup.Repaired
	case e.oom != nil:
		return e.oom.Repaired
	}
	return 0
}
