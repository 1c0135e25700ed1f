package cri

import (
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Container stages, in the only order the tracker lets them happen.
type stage int

const (
	stageNone stage = iota - 1
	stageCreated
	stageStarted
	stageExited
	stageStopped
	stageRemoved
)

var containerKinds = [...]string{
	stageCreated: apiv1.KindContainerCreated,
	stageStarted: apiv1.KindContainerStarted,
	stageExited:  apiv1.KindContainerExited,
	stageStopped: apiv1.KindContainerStopped,
	stageRemoved: apiv1.KindContainerRemoved,
}

// Sandbox stages.
const (
	sandboxReady stage = iota
	sandboxStopped
	sandboxRemoved
)

// How long a removed object is remembered, so that a late observation of it
// (a relist that started before the removal, a delayed containerd event) is
// recognised as old news instead of bringing it back.
const removedTTL = 5 * time.Minute

// earlyLimit bounds exits remembered for containers not yet seen through CRI.
const earlyLimit = 1024

type container struct {
	id          string
	sandboxID   string
	meta        Meta
	stage       stage
	firstSeen   time.Time
	removedAt   time.Time
	pid         int32
	cgroupsPath string
	oom         bool
	// oomAt is when the runtime reported the OOM kill; oomReported says
	// that its oom_killed was emitted, which waits for the container to
	// be known through CRI when the report came first.
	oomAt       time.Time
	oomReported bool
	exit        *Exit
}

type sandbox struct {
	id          string
	meta        Meta
	stage       stage
	firstSeen   time.Time
	removedAt   time.Time
	pid         int32
	cgroupsPath string
	netNS       string
}

// Tracker holds the lifecycle stage of every sandbox and container on the
// node and turns observations from any source into contract events. Stages
// only move forward and each is emitted once, so sources may repeat or race
// each other freely. When an observation skips stages (a relist that finds a
// container already exited), the skipped events are emitted first, in order.
//
// Lock order: mu, then deliverMu. Events and changes are collected under mu
// and delivered under deliverMu alone, so that a slow receiver never holds
// the tracker's state, and two observations racing each other still
// deliver in the order they were applied.
type Tracker struct {
	node string
	emit func(*apiv1.Event)
	now  func() time.Time

	// deliverMu serialises deliveries; subscribers is read under it.
	deliverMu   sync.Mutex
	subscribers []Subscriber

	mu         sync.Mutex
	outbox     []delivery
	containers map[string]*container
	sandboxes  map[string]*sandbox
	early      map[string]*container // exits and OOMs seen before the container
}

// NewTracker returns a Tracker that stamps events with node and hands them to
// emit, in order, one at a time.
func NewTracker(node string, emit func(*apiv1.Event)) *Tracker {
	return &Tracker{
		node:       node,
		emit:       emit,
		now:        time.Now,
		containers: make(map[string]*container),
		sandboxes:  make(map[string]*sandbox),
		early:      make(map[string]*container),
	}
}

// ContainerInfo is what the tracker knows of a container, for consumers that
// attribute other events to it or watch its resources.
type ContainerInfo struct {
	ID          string
	SandboxID   string
	Meta        Meta
	Pid         int32
	CgroupsPath string
	Stopped     bool
	Removed     bool
}

// SandboxInfo is what the tracker knows of a sandbox.
type SandboxInfo struct {
	ID          string
	Meta        Meta
	Pid         int32
	CgroupsPath string
	NetNS       string
	Stopped     bool
	Removed     bool
}

// Subscriber learns of containers and sandboxes as they appear, gain a pid,
// stop and are removed, seeded ones included. Its methods run after the
// tracker's state lock is released, one at a time and in the order of the
// changes, interleaved with the events; they must not call Apply or Seed.
type Subscriber interface {
	ContainerChanged(ContainerInfo)
	SandboxChanged(SandboxInfo)
}

// Listing says that a listing of the runtime, which began at Began, has
// been applied: every change it found was delivered before it.
type Listing struct {
	Began time.Time
	// Streamed says the runtime's changes also come by its event stream,
	// as they happen; a listing is then only a net under the stream.
	Streamed bool
}

// Lister is a Subscriber that is also told of each listing, in order with
// the changes. A container running when a listing began is known once the
// listing is delivered; what it did not find was not the runtime's.
type Lister interface {
	Listed(Listing)
}

// Listed delivers l to the subscribers that are Listers. The listing's
// changes were delivered as they were applied, before this call.
func (t *Tracker) Listed(l Listing) {
	t.deliverMu.Lock()
	defer t.deliverMu.Unlock()
	for _, s := range t.subscribers {
		if lister, ok := s.(Lister); ok {
			lister.Listed(l)
		}
	}
}

// Subscribe registers s. Call it before the first observation.
func (t *Tracker) Subscribe(s Subscriber) {
	t.deliverMu.Lock()
	defer t.deliverMu.Unlock()
	t.subscribers = append(t.subscribers, s)
}

// delivery is one thing an observation produced: an event or a change for
// the subscribers. Exactly one field is set.
type delivery struct {
	event     *apiv1.Event
	container *ContainerInfo
	sandbox   *SandboxInfo
}

// queue holds e for delivery once the lock is released; the caller holds t.mu.
func (t *Tracker) queue(e *apiv1.Event) {
	t.outbox = append(t.outbox, delivery{event: e})
}

func (t *Tracker) notify(c *container) {
	info := ContainerInfo{ID: c.id, SandboxID: c.sandboxID, Meta: c.meta, Pid: c.pid, CgroupsPath: c.cgroupsPath,
		Stopped: c.stage >= stageStopped, Removed: c.stage == stageRemoved}
	t.outbox = append(t.outbox, delivery{container: &info})
}

func (t *Tracker) notifySandbox(sb *sandbox) {
	info := SandboxInfo{ID: sb.id, Meta: sb.meta, Pid: sb.pid, CgroupsPath: sb.cgroupsPath, NetNS: sb.netNS,
		Stopped: sb.stage >= sandboxStopped, Removed: sb.stage == sandboxRemoved}
	t.outbox = append(t.outbox, delivery{sandbox: &info})
}

// Seed records what already exists without emitting anything, so that an
// agent restart neither loses track of running pods nor repeats their history.
func (t *Tracker) Seed(obs Observation) { t.apply(obs, false) }

// Apply records an observation and emits the events it implies.
func (t *Tracker) Apply(obs Observation) { t.apply(obs, true) }

// apply records obs under the state lock, then hands what it produced to
// emit and the subscribers. deliverMu is taken before mu is released, so
// deliveries keep the order in which observations were applied.
func (t *Tracker) apply(obs Observation, emit bool) {
	t.mu.Lock()
	t.record(obs, emit)
	out := t.outbox
	t.outbox = nil
	t.deliverMu.Lock()
	t.mu.Unlock()
	defer t.deliverMu.Unlock()
	for _, d := range out {
		switch {
		case d.event != nil:
			t.emit(d.event)
		case d.container != nil:
			for _, s := range t.subscribers {
				s.ContainerChanged(*d.container)
			}
		case d.sandbox != nil:
			for _, s := range t.subscribers {
				s.SandboxChanged(*d.sandbox)
			}
		}
	}
}

// record applies obs to the state; the caller holds t.mu.
func (t *Tracker) record(obs Observation, emit bool) {
	switch obs.Kind {
	case ContainerCreated, ContainerStarted, ContainerExited, ContainerStopped, ContainerRemoved:
		t.applyContainer(obs, stage(obs.Kind-ContainerCreated), emit)
	case ContainerOOM:
		c := t.containerFor(obs)
		if c == nil {
			break
		}
		if !c.oom {
			c.oom, c.oomAt = true, obs.Time
		}
		t.reportOOM(c, emit)
	case SandboxReady, SandboxStopped, SandboxRemoved:
		t.applySandbox(obs, stage(obs.Kind-SandboxReady), emit)
	}
}

// containerFor finds the record an exit or OOM belongs to, creating an early
// record when the container is not known yet.
func (t *Tracker) containerFor(obs Observation) *container {
	if c, ok := t.containers[obs.ID]; ok {
		return c
	}
	if _, ok := t.sandboxes[obs.ID]; ok {
		return nil
	}
	c, ok := t.early[obs.ID]
	if !ok {
		if len(t.early) >= earlyLimit {
			for id := range t.early {
				delete(t.early, id)
				break
			}
		}
		c = &container{id: obs.ID, stage: stageNone, firstSeen: t.now()}
		t.early[obs.ID] = c
	}
	return c
}

func (t *Tracker) applyContainer(obs Observation, target stage, emit bool) {
	c, known := t.containers[obs.ID]
	if !known {
		if obs.Meta == nil {
			// A runtime-native event about a container CRI has not shown us
			// yet: keep its exit for when it appears; ignore the rest.
			if target == stageExited {
				if e := t.containerFor(obs); e != nil && e.exit == nil {
					e.exit = obs.Exit
				}
			}
			return
		}
		c = &container{id: obs.ID, sandboxID: obs.SandboxID, meta: *obs.Meta, stage: stageNone, firstSeen: t.now()}
		if e, ok := t.early[obs.ID]; ok {
			c.exit, c.oom, c.oomAt = e.exit, e.oom, e.oomAt
			delete(t.early, obs.ID)
		}
		t.containers[obs.ID] = c
	}
	changed := !known
	if obs.CgroupsPath != "" && c.cgroupsPath == "" {
		c.cgroupsPath, changed = obs.CgroupsPath, true
	}
	if obs.Pid > 0 && c.pid == 0 && c.stage < stageExited {
		c.pid, changed = obs.Pid, true
	}
	if obs.Exit != nil && (c.exit == nil || c.exit.Reason == "") {
		c.exit = obs.Exit
	}
	for c.stage < target {
		c.stage++
		switch c.stage {
		case stageStopped:
			changed = true
		case stageRemoved:
			c.removedAt = t.now()
			changed = true
		}
		if emit {
			t.queue(t.containerEvent(c, obs))
		}
	}
	// An OOM kill reported before CRI showed the container (it may die
	// within milliseconds of its start) is emitted once the container is.
	t.reportOOM(c, emit)
	if changed {
		t.notify(c)
	}
}

// reportOOM queues c's oom_killed once: containerd may report one kill
// more than once (a v1 cgroup's OOM notifications), and a container is
// OOM-killed once in its life, since a restart makes a new container. A
// container not known through CRI yet has no pod to name, and waits.
func (t *Tracker) reportOOM(c *container, emit bool) {
	if !c.oom || c.oomReported || c.stage == stageNone {
		return
	}
	c.oomReported = true
	if emit {
		t.queue(t.oomEvent(c))
	}
}

func (t *Tracker) containerEvent(c *container, obs Observation) *apiv1.Event {
	at := obs.Time
	e := &apiv1.Event{
		Kind:      containerKinds[c.stage],
		Node:      t.node,
		Pod:       apiv1.NewPodRef(c.meta.PodNamespace, c.meta.PodName, c.meta.PodUID),
		Container: &apiv1.ContainerRef{Id: c.id, Name: c.meta.ContainerName},
	}
	switch c.stage {
	case stageCreated:
		at = firstSet(obs.CreatedAt, at)
		e.SandboxId = c.sandboxID
	case stageStarted:
		at = firstSet(obs.StartedAt, at)
		e.SandboxId = c.sandboxID
		if c.pid > 0 {
			e.Process = &apiv1.Process{Pid: c.pid}
		}
	case stageExited:
		x := c.exit
		if x == nil {
			// The exit happened while nothing was watching (the runtime
			// was down and the container is already gone): say so.
			e.Reason = apiv1.ReasonUnknown
			break
		}
		code := x.Code
		e.ExitCode = &code
		e.Reason = exitReason(x, c.oom)
		if !x.At.IsZero() {
			at = x.At
			e.ExitedAt = timestamppb.New(x.At)
		}
	}
	e.Time = timestamppb.New(at)
	return e
}

// oomEvent is the runtime's report of an OOM kill in c: it names the
// container alone, and its process comes from the kernel's report.
func (t *Tracker) oomEvent(c *container) *apiv1.Event {
	return &apiv1.Event{
		Kind:      apiv1.KindOOMKilled,
		Time:      timestamppb.New(c.oomAt),
		Node:      t.node,
		Pod:       apiv1.NewPodRef(c.meta.PodNamespace, c.meta.PodName, c.meta.PodUID),
		Container: &apiv1.ContainerRef{Id: c.id, Name: c.meta.ContainerName},
		Reason:    apiv1.ReasonSeenByRuntime,
	}
}

// exitReason follows the CRI plugin's rules when the source gave no reason.
func exitReason(x *Exit, oom bool) string {
	switch {
	case x.Reason != "":
		return x.Reason
	case oom:
		return apiv1.ReasonOOMKilled
	case x.Code == 0:
		return apiv1.ReasonCompleted
	default:
		return apiv1.ReasonError
	}
}

func (t *Tracker) applySandbox(obs Observation, target stage, emit bool) {
	s, ok := t.sandboxes[obs.ID]
	if !ok {
		if obs.Meta == nil {
			return
		}
		s = &sandbox{id: obs.ID, meta: *obs.Meta, firstSeen: t.now(), pid: obs.Pid, cgroupsPath: obs.CgroupsPath, netNS: obs.NetNS}
		t.sandboxes[obs.ID] = s
		if target == sandboxReady {
			t.notifySandbox(s)
		}
	}
	if target == sandboxRemoved && s.stage < sandboxRemoved {
		// The kubelet stops a pod's containers, stops its sandbox, then
		// removes the containers and the sandbox. A removal that was the
		// first thing seen still happened in that order.
		t.advanceContainers(s.id, stageStopped, obs.Time, emit)
		t.advanceSandbox(s, obs, sandboxStopped, emit)
		t.advanceContainers(s.id, stageRemoved, obs.Time, emit)
	}
	t.advanceSandbox(s, obs, target, emit)
}

func (t *Tracker) advanceContainers(sandboxID string, target stage, at time.Time, emit bool) {
	for _, c := range t.containers {
		if c.sandboxID == sandboxID && c.stage < target {
			t.applyContainer(Observation{ID: c.id, Time: at}, target, emit)
		}
	}
}

func (t *Tracker) advanceSandbox(s *sandbox, obs Observation, target stage, emit bool) {
	if s.stage < target {
		defer t.notifySandbox(s)
	}
	for s.stage < target {
		s.stage++
		if s.stage == sandboxRemoved {
			s.removedAt = t.now()
		}
		if emit {
			kind := apiv1.KindSandboxStopped
			if s.stage == sandboxRemoved {
				kind = apiv1.KindSandboxRemoved
			}
			t.queue(&apiv1.Event{Kind: kind, Time: timestamppb.New(obs.Time), Node: t.node, Pod: apiv1.NewPodRef(s.meta.PodNamespace, s.meta.PodName, s.meta.PodUID)})
		}
	}
}

// Known lists, for a relist that started at since, the live objects the
// tracker already knew then; any of them missing from the listing is gone.
func (t *Tracker) Known(since time.Time) (containers, sandboxes []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, c := range t.containers {
		if c.stage < stageRemoved && c.firstSeen.Before(since) {
			containers = append(containers, id)
		}
	}
	for id, s := range t.sandboxes {
		if s.stage < sandboxRemoved && s.firstSeen.Before(since) {
			sandboxes = append(sandboxes, id)
		}
	}
	return containers, sandboxes
}

// ContainerNeeds says what a source should fetch from the runtime before it
// reports a container: its pid (once it runs) and its exit status (once it
// stopped, unless containerd's own events already gave it). A container never seen (known false) needs its metadata too.
func (t *Tracker) ContainerNeeds(id string) (known, pid, exit bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.containers[id]
	if !ok {
		return false, true, true
	}
	return true, c.pid == 0 && c.stage < stageExited, c.stage < stageStopped && c.exit == nil
}

// IsSandbox reports whether id is a sandbox the tracker knows.
func (t *Tracker) IsSandbox(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.sandboxes[id]
	return ok
}

// Unsettled lists the sandbox's containers that the tracker has not yet seen
// reach stage want (stopped or removed), so that a source can ask the runtime
// about them before it reports the sandbox itself.
func (t *Tracker) unsettled(sandboxID string, want stage) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []string
	for id, c := range t.containers {
		if c.sandboxID == sandboxID && c.stage < want {
			ids = append(ids, id)
		}
	}
	return ids
}

// Prune forgets objects removed more than removedTTL ago.
func (t *Tracker) Prune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	cutoff := t.now().Add(-removedTTL)
	for id, c := range t.containers {
		if c.stage == stageRemoved && c.removedAt.Before(cutoff) {
			delete(t.containers, id)
		}
	}
	for id, s := range t.sandboxes {
		if s.stage == sandboxRemoved && s.removedAt.Before(cutoff) {
			delete(t.sandboxes, id)
		}
	}
	for id, c := range t.early {
		if c.firstSeen.Before(cutoff) {
			delete(t.early, id)
		}
	}
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
