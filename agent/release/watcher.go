// Package release reports when a pod's node resources are released: its
// containers' and sandbox's cgroups removed, its network namespace gone, its
// rootfs snapshots removed, its volume mounts unmounted.
//
// Snapshot removal comes as a containerd event, and cgroup removal as a
// kernel event when the eBPF probe runs (see cgroup.go). The rest, and
// cgroups without the probe, are polled with a bounded period from the
// moment the runtime reports the owner stopped; the watcher only stats paths
// and reads mountinfo, so it never holds a resource it watches.
package release

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/agent/cgroups"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/pacer"
	"github.com/graceline/graceline/internal/setting"
)

// Config tunes a Watcher.
type Config struct {
	// Period is how often pending resources are checked.
	Period time.Duration
	// Recheck is how often a cgroup whose removal the kernel reports is
	// checked all the same, in case its event was lost.
	Recheck time.Duration
	// GiveUp bounds how long one resource is watched.
	GiveUp time.Duration
	// KubeletRoot is the kubelet's --root-dir; empty skips mounts.
	KubeletRoot string
	// CgroupRoot is where the cgroup hierarchies are mounted.
	CgroupRoot string
	// MountInfo is the mountinfo file to read.
	MountInfo string
	// Now tells the time for the watcher's decisions: when a resource is
	// due for a check, and when it is given up. Nil means time.Now; tests
	// set it so that they move time rather than wait for it.
	Now func() time.Time
}

// MaxPeriod bounds Config.Period and Config.Recheck.
const MaxPeriod = time.Minute

// Validate checks that the periods are positive and bounded.
func (c Config) Validate() error {
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"Period", c.Period}, {"Recheck", c.Recheck}} {
		if p.d <= 0 || p.d > MaxPeriod {
			return setting.Invalid(p.name, p.d, "more than 0 and at most "+MaxPeriod.String())
		}
	}
	if c.GiveUp <= 0 {
		return setting.Invalid("GiveUp", c.GiveUp, "more than 0")
	}
	return nil
}

// pending is one resource waiting to be released.
type pending struct {
	kind string
	path string // as reported
	// gone checks the resource, with what this poll has read of the node.
	gone func(*tick) bool
	// file is a path whose existence gone checks, if any: the poll lists
	// a directory holding several of them once.
	file      string
	pod       *apiv1.PodRef
	container *apiv1.ContainerRef
	since     time.Time
	// owner is set for a cgroup whose removal the kernel reports: it is
	// checked only every Config.Recheck, from checked on.
	owner   *owner
	checked time.Time
	// done says it was reported already, by a kernel event.
	done bool
}

type owner struct {
	pod       *apiv1.PodRef
	container *apiv1.ContainerRef
	cgroup    string
	netNS     string
	watched   bool // its resources are being watched already
	removed   time.Time
	// rootfsGone says its snapshot removal was reported: the owner is
	// forgotten once its cgroup is watched too.
	rootfsGone bool
	cgroupWatch
}

// Watcher is a cri.Subscriber that emits release events.
type Watcher struct {
	cfg  Config
	node string
	emit func(*apiv1.Event)
	now  func() time.Time

	mu         sync.Mutex
	containers map[string]*owner // by container ID, for snapshot keys
	sandboxes  map[string]*owner
	pending    []*pending
	// kernel reports the removal of the cgroups in byID, when set.
	kernel      KernelCgroups
	byID        map[uint64][]*owner
	countCgroup func(foundBy string)
	// kernelOps are the registrations with the kernel that the changes
	// above call for, in the order they were decided; applyKernel makes
	// them outside w.mu. applying says a goroutine is making them.
	kernelOps []kernelOp
	applying  bool
	// pace runs poll while something is pending.
	pace *pacer.Pacer
}

// New returns a Watcher that hands its events to emit.
func New(node string, emit func(*apiv1.Event), cfg Config) *Watcher {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Watcher{cfg: cfg, node: node, emit: emit, now: now, containers: map[string]*owner{}, sandboxes: map[string]*owner{}, byID: map[uint64][]*owner{},
		pace: pacer.New(cfg.Period)}
}

// ContainerChanged is part of cri.Subscriber.
func (w *Watcher) ContainerChanged(info cri.ContainerInfo) {
	// Deferred first, so it runs after the unlock: the kernel's map is
	// updated outside the lock (see applyKernel).
	defer w.applyKernel()
	w.mu.Lock()
	defer w.mu.Unlock()
	o, ok := w.containers[info.ID]
	if !ok {
		if info.Removed || info.Stopped {
			// Already watched and forgotten, or never running here.
			return
		}
		o = &owner{pod: apiv1.NewPodRef(info.Meta.PodNamespace, info.Meta.PodName, info.Meta.PodUID), container: &apiv1.ContainerRef{Id: info.ID, Name: info.Meta.ContainerName}}
		w.containers[info.ID] = o
	}
	if info.CgroupsPath != "" && !o.following {
		o.cgroup = info.CgroupsPath
	}
	// A started container's cgroups exist: from now on their removal can
	// be reported by the kernel.
	if info.Pid > 0 && !info.Stopped {
		w.follow(o)
	}
	if info.Stopped && !o.watched {
		o.watched = true
		w.watchCgroup(o)
	}
	if info.Removed && o.removed.IsZero() {
		o.removed = w.now()
	}
	if o.watched && o.rootfsGone {
		delete(w.containers, info.ID)
	}
}

// SandboxChanged is part of cri.Subscriber.
func (w *Watcher) SandboxChanged(info cri.SandboxInfo) {
	defer w.applyKernel()
	w.mu.Lock()
	defer w.mu.Unlock()
	o, ok := w.sandboxes[info.ID]
	if !ok {
		o = &owner{pod: apiv1.NewPodRef(info.Meta.PodNamespace, info.Meta.PodName, info.Meta.PodUID), cgroup: info.CgroupsPath, netNS: info.NetNS}
		w.sandboxes[info.ID] = o
	}
	if info.Removed {
		delete(w.sandboxes, info.ID)
	}
	if !info.Stopped {
		w.follow(o)
	}
	if !info.Stopped || o.watched {
		return
	}
	o.watched = true
	w.watchCgroup(o)
	if o.netNS != "" {
		path := o.netNS
		w.add(&pending{kind: apiv1.KindNetNSReleased, path: path, file: path, pod: o.pod, gone: func(t *tick) bool { return !t.exists(path) }})
	}
	if w.cfg.KubeletRoot != "" && o.pod != nil {
		dir := filepath.Join(w.cfg.KubeletRoot, "pods", o.pod.Uid)
		w.add(&pending{kind: apiv1.KindMountsReleased, path: dir, pod: o.pod, gone: func(t *tick) bool {
			mounted, known := t.mountedBelow(dir)
			return known && !mounted
		}})
	}
}

// watchCgroup starts waiting for a stopped owner's cgroup to be removed:
// through the kernel's report when its directories are followed, by polling
// otherwise.
func (w *Watcher) watchCgroup(o *owner) {
	if o.cgroup == "" || o.cgroupReported {
		return
	}
	dirs := o.dirs
	if !o.following {
		dirs = cgroups.Dirs(w.cfg.CgroupRoot, o.cgroup)
	}
	if len(dirs) == 0 {
		w.unfollow(o)
		return
	}
	p := cgroupPending(o)
	p.gone = func(*tick) bool { return !cgroups.Exists(dirs) }
	if !o.following {
		w.add(p)
		return
	}
	now := w.now()
	switch {
	case p.gone(newTick(w.cfg.MountInfo, nil)):
		// Gone while its removal event is still on its way, or gone on a
		// hierarchy the kernel did not follow.
		w.unfollow(o)
		w.report(p, now, FoundByStat)
	default:
		p.owner, p.checked = o, now
		o.pending = p
		w.add(p)
	}
}

// cgroupPending is the removal of o's cgroup, still to be found.
func cgroupPending(o *owner) *pending {
	return &pending{kind: apiv1.KindCgroupRemoved, path: o.cgroup, pod: o.pod, container: o.container}
}

// report emits p's release at the given time, found as foundBy says.
func (w *Watcher) report(p *pending, at time.Time, foundBy string) {
	w.emit(&apiv1.Event{Kind: p.kind, Time: timestamppb.New(at), Node: w.node, Pod: p.pod, Container: p.container, Path: p.path})
	if p.kind == apiv1.KindCgroupRemoved && w.countCgroup != nil {
		w.countCgroup(foundBy)
	}
}

func (w *Watcher) add(p *pending) {
	p.since = w.now()
	w.pending = append(w.pending, p)
	w.pace.Wake()
}

// SnapshotRemoved reports a containerd snapshot removal. The CRI plugin keys
// a container's rootfs snapshot by the container's ID.
func (w *Watcher) SnapshotRemoved(key, snapshotter string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	o, ok := w.containers[key]
	if !ok {
		if sb, isSandbox := w.sandboxes[key]; isSandbox {
			o = sb
		} else {
			return
		}
	}
	path := key
	if snapshotter != "" { // containerd 1.6 leaves it out
		path = snapshotter + "/" + key
	}
	if o.rootfsGone {
		return
	}
	o.rootfsGone = true
	w.emit(&apiv1.Event{Kind: apiv1.KindRootfsReleased, Time: timestamppb.New(at), Node: w.node, Pod: o.pod, Container: o.container, Path: path})
	// A runtime may remove the snapshot before it reports the container
	// stopped (containerd 1.6, seen through a relist): the container is
	// kept until its cgroup is watched.
	if o.watched {
		delete(w.containers, key)
	}
}

// Run polls pending resources every Config.Period while there are any,
// until ctx ends.
func (w *Watcher) Run(ctx context.Context) { w.pace.Run(ctx, w.poll) }

// poll checks the pending resources that are due, and says whether any
// are left. The checks (stats, a mountinfo read) run without the lock, so
// that the tracker's changes, which the watcher takes from the agent's
// event queue, never wait for the disk.
func (w *Watcher) poll() (more bool) {
	defer w.applyKernel()
	now := w.now()
	w.mu.Lock()
	var due []*pending
	var files []string
	for _, p := range w.pending {
		if w.isDue(p, now) {
			due = append(due, p)
			if p.file != "" {
				files = append(files, p.file)
			}
		}
	}
	w.mu.Unlock()
	// One view of the node serves every due resource.
	t := newTick(w.cfg.MountInfo, files)
	gone := make(map[*pending]bool, len(due))
	for _, p := range due {
		gone[p] = p.gone(t)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	kept := w.pending[:0]
	for _, p := range w.pending {
		isGone, checked := gone[p]
		switch {
		case p.done:
			// Reported by the kernel's event.
		case !checked:
			// Added while the others were checked, or not due.
			kept = append(kept, p)
		case isGone:
			w.unfollow(p.owner)
			w.report(p, now, FoundByStat)
		case now.Sub(p.since) > w.cfg.GiveUp:
			// Still held: the stuck diagnosis reports it; stop polling.
			w.unfollow(p.owner)
		default:
			p.checked = now
			kept = append(kept, p)
		}
	}
	clear(w.pending[len(kept):])
	w.pending = kept
	// A removed container whose snapshot removal never came is forgotten,
	// by a poll for a later termination if none is left for this one.
	for id, o := range w.containers {
		if !o.removed.IsZero() && now.Sub(o.removed) > w.cfg.GiveUp {
			delete(w.containers, id)
		}
	}
	return len(w.pending) > 0
}

// isDue tells whether p is to be checked now: always, unless the kernel
// reports its removal and its recheck is not due yet. The caller holds w.mu.
func (w *Watcher) isDue(p *pending, now time.Time) bool {
	if p.done {
		return false
	}
	return p.owner == nil || now.Sub(p.checked) >= w.cfg.Recheck || now.Sub(p.since) > w.cfg.GiveUp
}
