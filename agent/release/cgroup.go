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
	// path is the directories' path from each hierarchy's root, which the
	// kernel's reports carry.
	path string
	// reported are the ids whose removal the kernel reported: the
	// directories are looked at only once every id was, which on cgroup
	// v1 saves a stat of each hierarchy per hierarchy removed.
	reported []uint64
	// unsure says a report came without a path (the kernel cut it), so
	// the removal may have been another directory's with the same id: the
	// directories are looked at before the owner is done.
	unsure bool
	// cgroupReported says the kernel reported the last directory gone
	// before the owner stopped, and cgroup_removed was emitted then.
	cgroupReported bool
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
// registration fails (the kernel's map is full, see watchFailed), the owner
// is polled for instead once it stops. The caller holds w.mu.
func (w *Watcher) follow(o *owner) {
	if w.kernel == nil || o.cgroup == "" || o.following || o.watched {
		return
	}
	o.dirs, o.path = cgroups.Dirs(w.cfg.CgroupRoot, o.cgroup), cgroups.InHierarchy(o.cgroup)
	o.following = true
	for _, d := range o.dirs {
		id, err := cgroups.ID(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			w.unfollow(o)
			o.following = false
			return
		}
		w.watchID(id, o)
	}
}

// watchID adds o to the owners of id, and queues its registration with the
// kernel when it is the first. The caller holds w.mu.
func (w *Watcher) watchID(id uint64, o *owner) {
	owners := w.byID[id]
	if slices.Contains(owners, o) {
		return
	}
	if len(owners) == 0 {
		w.kernelOps = append(w.kernelOps, kernelOp{id: id, watch: true})
	}
	w.byID[id] = append(owners, o)
	o.ids = append(o.ids, id)
}

// unfollow takes o's ids back from the kernel, those that no other owner
// shares, and forgets its pending removal. o may be nil. The caller holds
// w.mu.
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
		w.kernelOps = append(w.kernelOps, kernelOp{id: id})
	}
	o.ids, o.reported, o.unsure, o.pending = nil, nil, false, nil
}

// kernelOp is one change to the kernel's set of followed cgroups.
type kernelOp struct {
	id    uint64
	watch bool // else unwatch
}

// applyKernel makes the kernel calls queued by the changes under w.mu. It
// runs after the caller released w.mu, so that a slow map update never
// holds up the watcher's other callers (the agent's event queue, the
// kernel source, the poll).
//
// The calls are made in the order they were queued, by one goroutine at a
// time: whoever finds none applying takes the queue, and the others leave
// their calls to it. The order matters for one id: a container's cgroup
// registered while it starts, and unregistered as another owner of the same
// id goes, queue a watch then an unwatch. Were each caller to make its own
// calls after unlocking, the unwatch could reach the kernel first, and the
// id would stay in the kernel's map with no owner, for good; the other way
// round, a followed cgroup would lose its removal event. Applied in queue
// order, the kernel's map always ends as the watcher's byID says.
func (w *Watcher) applyKernel() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.applying {
		return
	}
	w.applying = true
	for len(w.kernelOps) > 0 {
		ops, k := w.kernelOps, w.kernel
		w.kernelOps = nil
		w.mu.Unlock()
		var failed []uint64
		for _, op := range ops {
			if !op.watch {
				// Nothing to do if it fails: the probe is gone, and its
				// map with it.
				k.UnwatchCgroup(op.id)
				continue
			}
			if err := k.WatchCgroup(op.id); err != nil {
				failed = append(failed, op.id)
			}
		}
		w.mu.Lock()
		for _, id := range failed {
			w.watchFailed(id)
		}
	}
	w.applying = false
}

// watchFailed makes the owners of an id the kernel refused (its map is
// full) fall back to polling: their other ids are taken back, and a
// removal already waited for is checked every Config.Period instead. An
// owner that joined the id after the refusal falls back too, which costs
// it only the kernel's early report. The caller holds w.mu.
func (w *Watcher) watchFailed(id uint64) {
	for _, o := range slices.Clone(w.byID[id]) {
		p := o.pending
		w.unfollow(o)
		o.following = false
		if p != nil {
			p.owner = nil
		}
	}
}

// CgroupRemoved is the kernel's report that the cgroup directory with this
// id and path (from its hierarchy's root; "" when the kernel cut it) was
// removed at the given time. An owner is done when none of its directories
// is left: a cgroup v1 owner has one per hierarchy, and an id may also
// stand for another owner's directory on another hierarchy, which its path
// tells apart.
func (w *Watcher) CgroupRemoved(id uint64, path string, at time.Time) {
	defer w.applyKernel()
	// The directories are stat'ed outside the lock: this runs on the
	// kernel reader's goroutine, and a stat of a cgroup that is being
	// removed can wait on the kernel.
	type candidate struct {
		o    *owner
		dirs []string
	}
	w.mu.Lock()
	var candidates []candidate
	var gone []*owner
	for _, o := range w.byID[id] {
		switch {
		case path == "":
			o.unsure = true
		case path != o.path:
			continue // another owner's directory, on another hierarchy
		}
		if !slices.Contains(o.reported, id) {
			o.reported = append(o.reported, id)
		}
		switch {
		case len(o.reported) < len(o.ids):
		case o.unsure:
			candidates = append(candidates, candidate{o, slices.Clone(o.dirs)})
		default:
			// Every directory's removal was reported by its own path: a
			// look would only cost a stat of each.
			gone = append(gone, o)
		}
	}
	w.mu.Unlock()
	for _, c := range candidates {
		if !cgroups.Exists(c.dirs) {
			gone = append(gone, c.o)
		}
	}
	if len(gone) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range gone {
		if !slices.Contains(w.byID[id], o) {
			// Unfollowed meanwhile: found by a poll, or given up.
			continue
		}
		p := o.pending
		w.unfollow(o)
		if p == nil {
			// Gone before the runtime reported the owner stopped: a
			// runtime deletes the task, and its cgroup with it, before it
			// says the container stopped, up to a second later on a busy
			// node. The removal is a fact now.
			o.cgroupReported = true
			w.report(cgroupPending(o), at, FoundByKernel)
			continue
		}
		p.done = true
		w.report(p, at, FoundByKernel)
	}
}
