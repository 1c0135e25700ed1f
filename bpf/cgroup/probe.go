// Package cgroup loads graceline's cgroup probe, which reports the removal
// of the cgroup directories it is told about, and decodes its events.
//
// The typical path is New, WatchCgroup for each cgroup of interest, then
// probe.Shared.Run with Events until the context ends, then Close.
package cgroup

import (
	"errors"
	"fmt"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// Twin of the C side's CGROUP_FLAG_PATH_TRUNCATED.
const flagPathTruncated = 1

// Probe is the loaded and attached cgroup program.
type Probe struct {
	objs   cgroupObjects
	links  probe.Links
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
	if p.links, err = probe.AttachAll(probe.Program{Tracepoint: "cgroup_rmdir", Prog: p.objs.CgroupRmdir}); err != nil {
		p.objs.Close()
		return nil, err
	}
	return p, nil
}

// Events routes the group's events, decoded, to handle.
func (p *Probe) Events(handle func(Event)) probe.Route {
	return probe.NewRoute(p.shared.Clock(), []uint32{rmdirType}, decode, handle)
}

// Close detaches and unloads the program.
func (p *Probe) Close() error {
	return errors.Join(p.links.Close(), p.objs.Close())
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
