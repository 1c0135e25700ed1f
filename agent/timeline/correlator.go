// Package timeline joins a pod's runtime and kernel events into one
// termination: it emits a termination_summary when the pod is gone, and
// stuck reports, with evidence, while it is not.
package timeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/pacer"
)

// Config tunes a Correlator.
type Config struct {
	// Slack is how long past its grace period a termination may run before
	// it is reported stuck.
	Slack time.Duration
	// StuckEvery is how often a stuck report is repeated with fresh evidence.
	StuckEvery time.Duration
	// Settle is how long after the sandbox's removal the summary waits for
	// late resource-release events.
	Settle time.Duration
	// Tick is how often evidence is sampled and deadlines are checked.
	Tick time.Duration
	// DefaultGrace stands in for an unknown grace period.
	DefaultGrace time.Duration
	// Decide is how long a container's stop, ended while its sandbox stays
	// up, waits for a new container or the sandbox to stop before it is
	// the container's own termination. The kubelet stops a deleted pod's
	// sandbox right after its containers, well within it.
	Decide time.Duration
	// ExpectMounts says mounts_released events come (the kubelet root is
	// watched), so a termination waits for one before it is complete.
	ExpectMounts bool
}

// DefaultConfig returns the agent's defaults.
func DefaultConfig() Config {
	return Config{Slack: 30 * time.Second, StuckEvery: 30 * time.Second, Settle: 2 * time.Second, Decide: 10 * time.Second, Tick: time.Second, DefaultGrace: 30 * time.Second}
}

// Subject is what an Inspector looks at: a pod that is terminating.
type Subject struct {
	PodUID     string
	SandboxID  string
	SandboxPid int32
	NetNS      string
	Containers []SubjectContainer
	// Phase is where the termination is now.
	Phase string
	// Due says a stuck report is due, which needs the evidence; otherwise
	// only the notes are looked for.
	Due bool
	// CNIDelFailure is the last failure of the CNI plugin's DEL for the
	// pod's sandbox, in one line; "" when none failed.
	CNIDelFailure string
}

// SubjectContainer is one container of a Subject.
type SubjectContainer struct {
	ID, Name    string
	Pid         int32
	CgroupsPath string
	KilledAt    time.Time
	Exited      bool
}

// Inspector gathers evidence about a terminating pod from the node: process
// states, signals, frozen cgroups, mounts, an unresponsive runtime. Notes are
// facts worth keeping for the summary even after they stop being true (the
// container was frozen).
type Inspector interface {
	Inspect(s Subject) Inspection
	// Processes reads a container's processes as they are now, its init
	// first, each with its signal masks, and whether its cgroup is frozen.
	// The correlator asks right after the container's stop signal.
	Processes(c SubjectContainer) (procs []*apiv1.Process, frozen bool)
}

// Inspection is what an Inspector found about a terminating pod.
type Inspection struct {
	// Evidence and Blockers are looked for only when a stuck report is
	// due. Evidence is what the node shows, a line each; Blockers are the
	// causes it names, each with the facts it was read from.
	Evidence []string
	Blockers []summary.Blocker
	// Notes are facts worth keeping for the summary even after they stop
	// being true (the container was frozen).
	Notes []string
}

// Correlator follows every pod's termination. It is a cri.Subscriber (for
// grace periods, pids and cgroups) and sees every event through Observe.
// Its lock guards only its own state: nothing is emitted and nothing on the
// node is read while it is held.
type Correlator struct {
	node    string
	emit    func(*apiv1.Event)
	inspect Inspector
	cfg     Config
	now     func() time.Time

	mu   sync.Mutex
	pods map[string]*pod
	done map[string]time.Time // finished pods, so late events don't revive them
	// sandboxStopSeen is when the runtime last reported a sandbox stopped
	// on the node (by the correlator's clock): while it works through a
	// mass deletion, a pod's sandbox stop can come long after its
	// containers', and their stops stay undecided (see decideQuiet).
	sandboxStopSeen time.Time
	// pace runs Check while a pod terminates, a container's stop is
	// undecided or summarised pods are remembered.
	pace *pacer.Pacer
	// reads are the containers whose processes are to be read since their
	// stop signal came; readNow wakes the reader for them.
	reads   []stopRead
	readNow chan struct{}
}

// New returns a Correlator that hands summaries and stuck reports to emit.
func New(node string, emit func(*apiv1.Event), inspect Inspector, cfg Config) *Correlator {
	return &Correlator{node: node, emit: emit, inspect: inspect, cfg: cfg, now: time.Now, pods: map[string]*pod{}, done: map[string]time.Time{},
		pace: pacer.New(cfg.Tick), readNow: make(chan struct{}, 1)}
}

// ContainerChanged is part of cri.Subscriber.
func (c *Correlator) ContainerChanged(info cri.ContainerInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.podFor(info.Meta.PodUID, info.Meta.PodNamespace, info.Meta.PodName)
	if p == nil {
		return
	}
	if info.Meta.GracePeriod >= 0 {
		p.grace = info.Meta.GracePeriod
	}
	p.sandboxID = info.SandboxID
	if p.own[info.ID] {
		return
	}
	if _, known := p.term.Known(info.ID); !known {
		p.newContainer(info.ID, info.Meta.ContainerName, c.now())
	}
	p.term.Container(info.ID, info.Meta.ContainerName, info.Pid)
	if ep := p.episodes[info.ID]; ep != nil {
		ep.term.Container(info.ID, info.Meta.ContainerName, info.Pid)
	}
	if info.CgroupsPath != "" {
		p.cgroups[info.ID] = info.CgroupsPath
	}
	c.wakeFor(p)
}

// SandboxChanged is part of cri.Subscriber.
func (c *Correlator) SandboxChanged(info cri.SandboxInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.podFor(info.Meta.PodUID, info.Meta.PodNamespace, info.Meta.PodName)
	if p == nil {
		return
	}
	p.sandboxID, p.sandboxPid, p.netNS, p.sandboxCgroup = info.ID, info.Pid, info.NetNS, info.CgroupsPath
}

func (c *Correlator) podFor(uid, ns, name string) *pod {
	if uid == "" {
		return nil
	}
	if _, finished := c.done[uid]; finished {
		return nil
	}
	p, ok := c.pods[uid]
	if !ok {
		p = newPod(&apiv1.PodRef{Namespace: ns, Name: name, Uid: uid})
		c.pods[uid] = p
	}
	return p
}

// Observe feeds one event into its pod's termination.
func (c *Correlator) Observe(e *apiv1.Event) {
	c.mu.Lock()
	out := c.observe(e)
	c.mu.Unlock()
	for _, ev := range out {
		c.emit(ev)
	}
}

// observe folds e into its pod and returns the inspections it makes worth
// emitting; the caller holds mu.
func (c *Correlator) observe(e *apiv1.Event) []*apiv1.Event {
	if e.Kind == apiv1.KindSandboxStopped && e.Source != apiv1.SourceAPI {
		c.sandboxStopSeen = c.now()
	}
	p := c.podFor(e.GetPod().GetUid(), e.GetPod().GetNamespace(), e.GetPod().GetName())
	if p == nil {
		return nil
	}
	p.observe(e)
	c.readAtStop(p, e)
	c.wakeFor(p)
	return p.settleInspection(e.GetContainer().GetId())
}

// wakeFor has Check run if p has something for it to do; the caller holds
// mu.
func (c *Correlator) wakeFor(p *pod) {
	if p.active() {
		c.pace.Wake()
	}
}

// active says whether p terminates, or has a container stop to decide or
// to summarise.
func (p *pod) active() bool {
	return !p.start().IsZero() || len(p.episodes) > 0 || len(p.restarts) > 0
}

// Run checks deadlines and samples evidence every Config.Tick while any
// pod is active, and reads containers' processes at their stop signals,
// until ctx ends.
func (c *Correlator) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.readStops(ctx)
	}()
	c.pace.Run(ctx, c.Check)
	wg.Wait()
}

// Check emits the summaries that are due and the stuck reports that are
// due, after sampling evidence for every terminating pod. The evidence is
// gathered without the lock, as it reads the node: Observe and the
// tracker's changes are never held up by a /proc scan. It says whether
// there is more to check.
func (c *Correlator) Check() (more bool) {
	subjects, out, more := c.due()
	for _, e := range out {
		c.emit(e)
	}
	found := make(map[string]Inspection, len(subjects))
	for uid, s := range subjects {
		found[uid] = c.inspect.Inspect(s)
	}
	for _, e := range c.record(found) {
		c.emit(e)
	}
	return more
}

// due forgets old finished pods, returns the summaries now due, lists the
// terminating pods to inspect, and says whether a later check has work.
func (c *Correlator) due() (map[string]Subject, []*apiv1.Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for uid, t := range c.done {
		if now.Sub(t) > 5*time.Minute {
			delete(c.done, uid)
		}
	}
	var out []*apiv1.Event
	subjects := map[string]Subject{}
	// The runtime is working through a mass deletion while other pods'
	// container stops wait undecided too, or sandboxes still stop: a
	// pod's own sandbox stop may then come long after its containers'.
	undecided := 0
	for _, p := range c.pods {
		if len(p.episodes) > 0 {
			undecided++
		}
	}
	stopping := undecided > 1 || now.Sub(c.sandboxStopSeen) < c.cfg.Decide
	more := false
	for uid, p := range c.pods {
		p.decideQuiet(now, c.cfg.Decide, stopping)
		out = append(out, p.readyRestarts(c.node, now, c.cfg.Settle)...)
		more = more || p.active()
		if p.start().IsZero() {
			continue
		}
		if end, ok := p.completedAt(c.cfg.ExpectMounts); ok {
			// Finished: only late release events are awaited.
			if now.Sub(end) >= c.cfg.Settle {
				out = append(out, c.summary(p, end))
				delete(c.pods, uid)
				c.done[uid] = now
			}
			continue
		}
		s := p.subject()
		s.Due = c.stuckDue(p, now)
		subjects[uid] = s
	}
	return subjects, out, more || len(c.done) > 0
}

// stuckDue says whether p's termination has outlived its grace period and
// the slack, and no stuck report was made within StuckEvery; the caller
// holds mu.
func (c *Correlator) stuckDue(p *pod, now time.Time) bool {
	grace := c.cfg.DefaultGrace
	if p.grace >= 0 {
		grace = time.Duration(p.grace) * time.Second
	}
	start := p.start()
	return !start.IsZero() && now.Sub(start) >= grace+c.cfg.Slack && (p.stuckReported.IsZero() || now.Sub(p.stuckReported) >= c.cfg.StuckEvery)
}

// record keeps the notes found and returns the stuck reports due. A pod
// that finished while it was inspected is left alone, and so is one whose
// only stop was found meanwhile to be a container's own (a restart): it
// no longer terminates, and an inspection of a hundred pods on a busy node
// can take seconds.
func (c *Correlator) record(found map[string]Inspection) []*apiv1.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var out []*apiv1.Event
	for uid, in := range found {
		p, ok := c.pods[uid]
		if !ok {
			continue
		}
		for _, n := range in.Notes {
			p.note(n)
		}
		if !c.stuckDue(p, now) {
			continue
		}
		start := p.start()
		p.stuckReported = now
		// A hung stop is where the masks read at the stop say the most.
		out = append(out, p.flushInspections()...)
		evidence := append(slices.Clip(in.Evidence), p.notes...)
		causes := stuckCauses(in.Blockers, evidence)
		out = append(out, &apiv1.Event{
			Kind: apiv1.KindStuck, Time: timestamppb.New(now), Node: c.node, Pod: p.ref,
			Since: timestamppb.New(start), BlockingPhase: summary.StuckPhase(p.blockingPhase(), causes), Evidence: evidence, Causes: causes,
		})
	}
	return out
}

// stuckCauses are a stuck report's causes: the blockers found, or, when
// nothing found names one, unknown with all the evidence as its facts.
func stuckCauses(blockers []summary.Blocker, evidence []string) []*apiv1.ContainerCause {
	if len(blockers) == 0 {
		blockers = []summary.Blocker{{Cause: apiv1.StuckUnknown, Facts: evidence}}
	}
	causes := make([]*apiv1.ContainerCause, len(blockers))
	for i, b := range blockers {
		causes[i] = b.StuckCause()
	}
	return causes
}

func (p *pod) subject() Subject {
	s := Subject{PodUID: p.ref.Uid, SandboxID: p.sandboxID, SandboxPid: p.sandboxPid, NetNS: p.netNS, Phase: p.blockingPhase(), CNIDelFailure: p.cniDel}
	for _, c := range p.term.Containers() {
		if ep := p.episodes[c.ID]; ep != nil {
			// An undecided stop's signals and exit are the episode's.
			c, _ = ep.term.Known(c.ID)
		}
		s.Containers = append(s.Containers, SubjectContainer{ID: c.ID, Name: c.Name, Pid: c.Pid, CgroupsPath: p.cgroups[c.ID], KilledAt: c.KilledAt, Exited: !c.ExitedAt.IsZero()})
	}
	return s
}

// summary is the pod's termination_summary, complete at end. Its phases,
// killed flag, verdict and exit codes follow the rules the collector
// applies too.
func (c *Correlator) summary(p *pod, end time.Time) *apiv1.Event {
	grace := p.grace
	notes := p.notes
	if !p.stuckReported.IsZero() {
		notes = append(notes, fmt.Sprintf("was reported stuck; took %s in all", end.Sub(p.start()).Round(time.Millisecond)))
	}
	e := &apiv1.Event{Kind: apiv1.KindTerminationSummary, Time: timestamppb.New(end), Node: c.node, Pod: p.ref, Evidence: notes}
	p.term.Fill(e)
	if grace >= 0 {
		g := int32(grace)
		e.GracePeriodS = &g
	}
	return e
}
