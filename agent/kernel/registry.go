package kernel

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/process"
	"github.com/graceline/graceline/cri"
)

// containerRef is what a kernel event about a container is attributed to.
type containerRef struct {
	id      string
	name    string
	pod     *apiv1.PodRef
	preStop []string // the preStop exec command, if any
	// cgroupsPath is the OCI cgroupsPath, where an OOM kill's memory
	// numbers are read.
	cgroupsPath string
	// sandbox says that id is a sandbox's: events of its processes are the
	// pod's, with no container.
	sandbox bool
	// pid is its init's, as the runtime reported it, and initExited when
	// the kernel reported that init's exit (see notice).
	pid        int32
	initExited time.Time
	// since is when its init started, the first process of its namespace:
	// zero when unknown.
	since   time.Time
	stopped time.Time
	removed time.Time
	// oomKilled says that the kernel's OOM killer chose one of its
	// processes: its init's exit is then reported as OOMKilled, as the
	// runtime would.
	oomKilled bool
}

// holds tells whether an event at time at can come from the container: not
// once the runtime reported it stopped, because by then every process of
// its namespace is gone, and the kernel may give the namespace's inode
// number to a new container; and not before its init started, because an
// event of the inode's former owner, held until its namespace was known,
// may be retried only once the new owner is.
func (c *containerRef) holds(at time.Time) bool {
	return !at.Before(c.since) && (c.stopped.IsZero() || !at.After(c.stopped))
}

// sandboxRef is the pod a sandbox belongs to.
type sandboxRef struct {
	pod     *apiv1.PodRef
	removed time.Time
}

// registry maps mount-namespace inodes to containers, and sandbox IDs to
// pods. It learns a container's namespace from its pid by reading
// /proc/<pid>/ns/mnt once, and holds no file descriptor on it. A removed
// container or sandbox stays for removedTTL so that its last kernel events,
// which may arrive late, still resolve; events after a container stopped do
// not.
type registry struct {
	mu         sync.Mutex
	byNS       map[uint32]*containerRef
	byID       map[string]uint32
	sandboxes  map[string]*sandboxRef
	removedTTL time.Duration
	now        func() time.Time
	log        *slog.Logger
	// changed is signalled (without blocking) when a container is added,
	// so that held events are retried at once.
	changed chan struct{}
	// filter learns the inits and forgets the namespaces of removed
	// containers; nil in tests that need no kernel.
	filter kernelFilter
	// started tells when a process started, on the kernel events' clock;
	// nil leaves containers' starts unknown.
	started func(pid int) (time.Time, error)
	// listing is the newest listing of the runtime delivered.
	listing cri.Listing
}

func newRegistry(removedTTL time.Duration, log *slog.Logger) *registry {
	return &registry{
		byNS:       make(map[uint32]*containerRef),
		byID:       make(map[string]uint32),
		sandboxes:  make(map[string]*sandboxRef),
		removedTTL: removedTTL,
		now:        time.Now,
		log:        log,
		changed:    make(chan struct{}, 1),
	}
}

// SandboxChanged is part of cri.Subscriber. Sandboxes are known so that a
// CNI plugin run, which names only its sandbox, finds its pod, and so that
// the sandbox's own processes (pause) are attributed to the pod.
func (r *registry) SandboxChanged(info cri.SandboxInfo) {
	ns, found := r.namespaceOf(info.ID, info.Pid, info.Stopped || info.Removed)
	defer r.initChanged(info.Pid, found, info.Stopped || info.Removed)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.learn(info.ID, info.Pid, info.Stopped, info.Removed, ns, found, func() *containerRef {
		return &containerRef{id: info.ID, sandbox: true, pod: apiv1.NewPodRef(info.Meta.PodNamespace, info.Meta.PodName, info.Meta.PodUID)}
	})
	if ref, ok := r.sandboxes[info.ID]; ok {
		if info.Removed && ref.removed.IsZero() {
			ref.removed = r.now()
		}
		return
	}
	pod := apiv1.NewPodRef(info.Meta.PodNamespace, info.Meta.PodName, info.Meta.PodUID)
	if info.Removed || pod == nil {
		return
	}
	r.sandboxes[info.ID] = &sandboxRef{pod: pod}
}

// Listed is part of cri.Lister: the held events of namespaces that a
// listing found no container for wait for it (see kernelSource.expired).
func (r *registry) Listed(l cri.Listing) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !l.Began.Before(r.listing.Began) {
		r.listing = l
	}
}

// lastListing returns the newest listing delivered.
func (r *registry) lastListing() cri.Listing {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listing
}

// sandboxPod returns the pod of a sandbox, or nil.
func (r *registry) sandboxPod(id string) *apiv1.PodRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref, ok := r.sandboxes[id]; ok {
		return ref.pod
	}
	return nil
}

// ContainerChanged is part of cri.Subscriber.
func (r *registry) ContainerChanged(info cri.ContainerInfo) {
	ns, found := r.namespaceOf(info.ID, info.Pid, info.Stopped || info.Removed)
	defer r.initChanged(info.Pid, found, info.Stopped || info.Removed)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.learn(info.ID, info.Pid, info.Stopped, info.Removed, ns, found, func() *containerRef {
		ref := &containerRef{id: info.ID, name: info.Meta.ContainerName, cgroupsPath: info.CgroupsPath, pod: apiv1.NewPodRef(info.Meta.PodNamespace, info.Meta.PodName, info.Meta.PodUID)}
		if h := info.Meta.PreStop; h != nil && h.Exec != nil {
			ref.preStop = slices.Clone(h.Exec.Command)
		}
		return ref
	})
}

// initChanged tells the kernel's filter of an init seen running for the
// first time (found: its namespace was just read) and of one that ended.
// It runs after the registry's lock is released, as it calls the kernel.
func (r *registry) initChanged(pid int32, found, ended bool) {
	if r.filter == nil || pid <= 0 || (!found && !ended) {
		return
	}
	if err := r.filter.SetInit(uint32(pid), !ended); err != nil {
		r.log.Warn("kernel filter not told of a container's init; its events may be sampled", "pid", pid, "err", err)
	}
}

// namespaces returns the mount namespace of a container, or with id "" of
// every container and the sandbox of the pod.
func (r *registry) namespaces(podUID, id string) []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id != "" {
		if ns, ok := r.byID[id]; ok {
			return []uint32{ns}
		}
		return nil
	}
	var out []uint32
	for ns, ref := range r.byNS {
		if ref.pod.GetUid() == podUID {
			out = append(out, ns)
		}
	}
	return out
}

// namespace is a container's mount namespace, as namespaceOf read it.
type namespace struct {
	inode uint32
	// since is when the container's init started (see containerRef).
	since time.Time
}

// namespaceOf reads the mount namespace of a container or sandbox seen
// running for the first time, and when its init started. It reads /proc
// without the lock, so that the kernel source's lookups never wait for it;
// the changes come from one goroutine (the pipeline's), so nothing learns
// the same id meanwhile.
func (r *registry) namespaceOf(id string, pid int32, ended bool) (namespace, bool) {
	if pid == 0 || ended {
		return namespace{}, false
	}
	r.mu.Lock()
	_, known := r.byID[id]
	r.mu.Unlock()
	if known {
		return namespace{}, false
	}
	inode, err := probe.MountNamespace(int(pid))
	if err != nil {
		// It may already be gone; its events stay unattributed.
		r.log.Debug("mount namespace unknown", "id", id, "err", err)
		return namespace{}, false
	}
	ns := namespace{inode: inode}
	if r.started != nil {
		// Without its start, the container would take events of the
		// inode's former owner; with no start at all, none of its own.
		if ns.since, err = r.started(int(pid)); err != nil {
			r.log.Debug("container start unknown", "id", id, "err", err)
			return namespace{}, false
		}
	}
	return ns, true
}

// learn records the mount namespace of a container or sandbox (read by
// namespaceOf, when found) the first time it runs, and when it ends; the
// caller holds r.mu.
func (r *registry) learn(id string, pid int32, stopped, removed bool, seen namespace, found bool, newRef func() *containerRef) {
	if pid == 0 {
		return
	}
	if ns, ok := r.byID[id]; ok {
		// The namespace is known; only the end matters. A newer container
		// may hold the same inode by now.
		if ref := r.byNS[ns]; ref != nil && ref.id == id {
			if (stopped || removed) && ref.stopped.IsZero() {
				ref.stopped = r.now()
			}
			if removed && ref.removed.IsZero() {
				ref.removed = r.now()
			}
		}
		return
	}
	if stopped || removed || !found {
		return
	}
	if old := r.byNS[seen.inode]; old != nil {
		delete(r.byID, old.id) // the inode was reused: the old owner is gone
	}
	ref := newRef()
	ref.pid, ref.since = pid, seen.since
	r.byNS[seen.inode] = ref
	r.byID[id] = seen.inode
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// initExit is the exit of a container's init, as notice saw it.
type initExit struct {
	id        string
	oomKilled bool
}

// notice follows what the kernel's own events say of a namespace's life:
// the exit of its container's init, and after it the first sign of a new
// namespace on the same inode, a runc process or an exec from outside,
// which ends the container as of its init's exit. The kernel hands a freed
// namespace's inode to the next new one at once, and on a node where pods
// come and go (a rollout) the next pod's sandbox often gets it before the
// runtime reports the old container stopped; the new sandbox's events
// would be the old pod's. The ring buffer's order puts the init's exit,
// and the kills of the namespace's other processes that follow it, before
// any event of the new namespace.
//
// It returns the exit of a container's init (not a sandbox's pause), the
// first time it sees one.
func (r *registry) notice(p *process.Event) (x initExit, exited bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref := r.byNS[p.MntNS]
	if ref == nil {
		return initExit{}, false
	}
	switch {
	case ref.initExited.IsZero():
		if p.Type == process.Exit && p.Leader && ref.pid > 0 && p.Pid == uint32(ref.pid) {
			ref.initExited = p.Time
			return initExit{id: ref.id, oomKilled: ref.oomKilled}, !ref.sandbox
		}
	case (strings.HasPrefix(p.Comm, "runc:[") || p.Type == process.Exec && p.ParentMntNS != p.MntNS) &&
		(ref.stopped.IsZero() || ref.stopped.After(ref.initExited)):
		// The runtime's report of the stop, when it came first, carries
		// the agent's time of the report; on a busy node the kernel's
		// events can reach the agent after it, and the new namespace's
		// first ones would still fall before it.
		ref.stopped = ref.initExited
	}
	return initExit{}, false
}

// oomKilled notes that the OOM killer chose a process of the container
// living in mount namespace ns at time at.
func (r *registry) oomKilled(ns uint32, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref, ok := r.byNS[ns]; ok && ref.holds(at) {
		ref.oomKilled = true
	}
}

// lookup returns the container living in mount namespace ns at time at.
func (r *registry) lookup(ns uint32, at time.Time) (*containerRef, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, ok := r.byNS[ns]
	if !ok || !ref.holds(at) {
		return nil, false
	}
	return ref, true
}

// prune forgets containers removed more than removedTTL ago, and has the
// kernel's filter forget their namespaces. It says whether removed
// containers are left to forget.
func (r *registry) prune() (waiting bool) {
	var gone []uint32
	r.mu.Lock()
	cutoff := r.now().Add(-r.removedTTL)
	for ns, ref := range r.byNS {
		if !ref.removed.IsZero() && ref.removed.Before(cutoff) {
			delete(r.byNS, ns)
			if r.byID[ref.id] == ns {
				delete(r.byID, ref.id)
			}
			gone = append(gone, ns)
			continue
		}
		waiting = waiting || !ref.removed.IsZero()
	}
	for id, ref := range r.sandboxes {
		if !ref.removed.IsZero() && ref.removed.Before(cutoff) {
			delete(r.sandboxes, id)
			continue
		}
		waiting = waiting || !ref.removed.IsZero()
	}
	r.mu.Unlock()
	if r.filter == nil {
		return waiting
	}
	for _, ns := range gone {
		if err := r.filter.ForgetNamespace(ns); err != nil {
			r.log.Warn("kernel filter did not forget a removed container's namespace", "mntns", ns, "err", err)
		}
	}
	return waiting
}
