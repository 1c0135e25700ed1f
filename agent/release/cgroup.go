package release

import (
	"errors"
	"io/fs"
	"slices"
	"time"

	"github.com/graceline/graceline/agent/cgroups"
)

// How a cgroup removal was found, for CountCgroupRemovals.
const (
	FoundByKernel = "kernel_event"
	FoundByStat   = "stat"
)

// CountCgroupRemovals makes the watcher call count for each cgroup_removed
// it emits, with FoundByKernel or FoundByStat. Call it before Run.
func (w *Watcher) CountCgroupRemovals(count func(foundBy string)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.countCgroup = count
}

// KernelCgroups is the eBPF probe's side of cgroup removal: it reports the
// removal of the cgroups it is told about, by id, and drops every other
// one in the kernel.
type KernelCgroups interface {
	WatchCgroup(id uint64) error
	UnwatchCgroup(id uint64) error
}

// cgroupWatch is what an owner's cgroup needs for the kernel to report its
// removal. While the owner runs, the ids of its directories (their inode
// numbers) are registered with the kernel; a removal can then come at any
// time, before or after the runtime reports the owner stopped. Only stat is
// used: no cgroup is ever held open.
type cgroupWatch struct {
	// following says the removal of every directory that exists comes as
	// a kernel event.
	following bool
	dirs      []string
	ids       []uint64
	// cgroupGone is when the last directory went, if that came before
	// the owner stopped.
	cgroupGone time.Time
	// pending waits for the removal once the owner stopped.
	pending *pending
}

// UseKernel makes the watcher learn of removed cgroups from k's events,
// handed to CgroupRemoved, rather than by polling. Call it before the first
// container is seen.
func (w *Watcher) UseKernel(k KernelCgroups) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.kernel = k
}

// follow registers a running owner's cgroup directories with the kernel.
// A directory that does not exist is skipped: it never existed on that
// hierarchy, or it is gone already, which the check at stop finds. When any
// registration fails (the kernel's map is full), the owner is polled for
// instead once it stops.
func (w *Watcher) follow(o *owner) {
	if w.kernel == nil || o.cgroup == "" || o.following || o.watched {
		return
	}
	o.dirs = cgroups.Dirs(w.cfg.CgroupRoot, o.cgroup)
	o.following = true
	for _, d := range o.dirs {
		id, err := cgroups.ID(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			err = w.watchID(id, o)
		}
		if err != nil {
			w.unfollow(o)
			o.following = false
			return
		}
	}
}

func (w *Watcher) watchID(id uint64, o *owner) error {
	owners := w.byID[id]
	if slices.Contains(owners, o) {
		return nil
	}
	if len(owners) == 0 {
		if err := w.kernel.WatchCgroup(id); err != nil {
			return err
		}
	}
	w.byID[id] = append(owners, o)
	o.ids = append(o.ids, id)
	return nil
}

// unfollow takes o's ids back from the kernel, those that no other owner
// shares, and forgets its pending removal. o may be nil.
func (w *Watcher) unfollow(o *owner) {
	if o == nil {
		return
	}
	for _, id := range o.ids {
		owners := slices.DeleteFunc(w.byID[id], func(x *owner) bool { return x == o })
		if len(owners) > 0 {
			w.byID[id] = owners
			continue
		}
		delete(w.byID, id)
		// Nothing to do if it fails: the probe is gone, and its map with it.
		w.kernel.UnwatchCgroup(id)
	}
	o.ids, o.pending = nil, nil
}

// CgroupRemoved is the kernel's report that the cgroup directory with this
// id was removed at the given time. An owner is done when none of its
// directories is left: a cgroup v1 owner has one per hierarchy, and an id
// may also stand for a directory on another hierarchy.
func (w *Watcher) CgroupRemoved(id uint64, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range slices.Clone(w.byID[id]) {
		if cgroups.Exists(o.dirs) {
			continue
		}
		p := o.pending
		w.unfollow(o)
		if p == nil {
			o.cgroupGone = at // reported once the owner stops
			continue
		}
		p.done = true
		w.report(p, at, FoundByKernel)
	}
}
