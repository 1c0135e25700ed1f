// Package cgroup loads graceline's cgroup probe, which reports the removal
// of the cgroup directories it is told about, and decodes its events.
//
// The typical path is New, WatchCgroup for each cgroup of interest, then
// probe.Shared.Run with Events until the context ends, then Close.
package cgroup

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/link"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// Twin of the C side's CGROUP_FLAG_PATH_TRUNCATED.
const flagPathTruncated = 1

// Probe is the loaded and attached cgroup program.
type Probe struct {
	objs   cgroupObjects
	link   link.Link
	shared *probe.Shared
}

// New loads the cgroup program into shared and attaches it to the
// cgroup_rmdir raw tracepoint. Without it the caller polls for removed
// cgroups.
func New(shared *probe.Shared) (*Probe, error) {
	spec, err := loadCgroup()
	if err != nil {
		return nil, fmt.Errorf("load cgroup object: %w", err)
	}
	p := &Probe{shared: shared}
	if err := shared.Load(spec, nil, &p.objs); err != nil {
		return nil, err
	}
	if p.link, err = probe.Attach("cgroup_rmdir", p.objs.CgroupRmdir); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Events routes the group's events, decoded, to handle.
func (p *Probe) Events(handle func(Event)) probe.Route {
	clock := p.shared.Clock()
	return probe.Route{
		Types: []uint32{rmdirType},
		Decode: func(raw []byte) bool {
			e, ok := decode(raw, clock)
			if ok {
				handle(e)
			}
			return ok
		},
	}
}

// Close detaches and unloads the program.
func (p *Probe) Close() error {
	var errs []error
	if p.link != nil {
		errs = append(errs, p.link.Close())
	}
	errs = append(errs, p.objs.Close())
	return errors.Join(errs...)
}

// decode reads a record of the C side's struct event.
func decode(raw []byte, clock probe.Clock) (Event, bool) {
	r, ok := record.View[cgroupEvent](raw)
	if !ok || r.Type != rmdirType {
		return Event{}, false
	}
	var repaired int
	e := Event{
		Time:          clock.Wall(r.TsNs),
		Path:          record.Text(record.Bytes(r.Path[:min(int(r.PathLen), len(r.Path))]), &repaired),
		PathTruncated: r.Flags&flagPathTruncated != 0,
		Hierarchy:     r.Hierarchy,
		ID:            r.Id,
	}
	e.Repaired = repaired
	return e, true
}
