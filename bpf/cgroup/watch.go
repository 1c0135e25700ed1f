package cgroup

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ErrFull says the kernel side follows as many cgroups as it can;
// the caller has to look for the removal of the others itself.
var ErrFull = errors.New("cgroup id map full")

// WatchCgroup makes the kernel side report the removal of the cgroup with
// this id (its directory's inode number) as an Event, until
// UnwatchCgroup. Every other cgroup's removal is dropped in the kernel.
func (p *Probe) WatchCgroup(id uint64) error {
	if err := p.objs.CgroupIds.Update(id, uint8(1), ebpf.UpdateAny); err != nil {
		// A full hash map refuses a new key with E2BIG.
		if errors.Is(err, unix.E2BIG) {
			return fmt.Errorf("watch cgroup %d: %w", id, ErrFull)
		}
		return fmt.Errorf("watch cgroup %d: %w", id, err)
	}
	return nil
}

// UnwatchCgroup forgets a cgroup id given to WatchCgroup; one that is not
// watched is no error.
func (p *Probe) UnwatchCgroup(id uint64) error {
	if err := p.objs.CgroupIds.Delete(id); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unwatch cgroup %d: %w", id, err)
	}
	return nil
}
