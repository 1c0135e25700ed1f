package timeline

import (
	"strings"
	"time"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// Phase names, in the order a termination goes through them.
const (
	PhasePreStop         = apiv1.PhasePreStop
	PhaseStopSignal      = apiv1.PhaseStopSignal
	PhaseSIGKILL         = apiv1.PhaseSIGKILL
	PhaseSandboxTeardown = apiv1.PhaseSandboxTeardown
	PhaseResourceRelease = apiv1.PhaseResourceRelease
	PhaseRemoval         = apiv1.PhaseRemoval
)

// pod is one pod's termination as it unfolds. What the events tell, and
// the rules read from it, are the summary package's, shared with the
// collector; the pod adds what only the runtime tells: the grace period
// and what the pod holds on the node.
type pod struct {
	ref   *apiv1.PodRef
	grace int64 // seconds; -1 unknown
	term  *summary.Termination
	// cgroups maps a container's ID to its cgroups path, when it has one.
	cgroups       map[string]string
	sandboxID     string
	sandboxPid    int32
	netNS         string
	sandboxCgroup string

	stuckReported time.Time
	notes         []string // sticky evidence worth repeating in the summary

	// episodes are the containers' stops not yet known to be restarts or
	// the pod's deletion, by container ID.
	episodes map[string]*episode
	// own lists the containers whose termination was their own; their
	// later events are not the pod's.
	own map[string]bool
	// restarts are the containers' own terminations not yet summarised.
	restarts []*episode
	// quiet are the containers' own terminations decided because nothing
	// followed them, with their events, until a new container or the
	// sandbox's stop settles it.
	quiet []*episode
	// read lists the containers whose processes were queued to be read
	// at their stop signal, and inspections holds what was read until it
	// matters, by container ID.
	read        map[string]bool
	inspections map[string]*apiv1.Event
	// cniDel is the last failure of the CNI plugin's DEL for the sandbox.
	cniDel string
}

func newPod(ref *apiv1.PodRef) *pod {
	return &pod{ref: ref, grace: -1, term: summary.New(), cgroups: map[string]string{}, episodes: map[string]*episode{}, own: map[string]bool{}, read: map[string]bool{},
		inspections: map[string]*apiv1.Event{}}
}

// observe folds one of the pod's events into its termination, or into a
// container's while it is not known whose it is.
func (p *pod) observe(e *apiv1.Event) {
	if e.Kind == apiv1.KindCNIPluginFailed {
		// Kept as a note: the runtime's StopPodSandbox error, which only
		// its caller sees, is this message.
		if line, ok := cniDelFailure(e); ok {
			p.note(line)
			p.cniDel = line
		}
	}
	ref := e.GetContainer()
	id := ref.GetId()
	if e.Kind == apiv1.KindContainerCreated || e.Kind == apiv1.KindContainerStarted {
		p.newContainer(id, ref.GetName(), e.GetTime().AsTime())
	}
	if id != "" && p.own[id] {
		// The tail of a restarted container: its summary's, if still due,
		// and kept while its decision may be taken back.
		for _, ep := range p.restarts {
			if ep.id == id {
				ep.term.Add(e)
			}
		}
		for _, ep := range p.quiet {
			if ep.id == id {
				ep.events = append(ep.events, e)
			}
		}
		return
	}
	if id != "" && p.term.Start().IsZero() {
		if ep := p.episodes[id]; ep != nil {
			ep.term.Add(e)
			ep.events = append(ep.events, e)
			return
		}
		if p.openEpisode(id, ref.GetName(), e) != nil {
			return
		}
	}
	if isDeletion(e) {
		p.reviseQuiet(e.GetTime().AsTime())
		p.decideDeletion()
	}
	p.term.Add(e)
}

// start is the termination's first sign: the pod's own, or else that of a
// container's stop that still runs undecided; zero while the pod runs.
func (p *pod) start() time.Time {
	if s := p.term.Start(); !s.IsZero() {
		return s
	}
	s, _ := p.hanging()
	return s
}

// note keeps the first note about each subject: the text before its first
// ": " names it, so that a later sample of the same fact does not repeat it.
func (p *pod) note(s string) {
	key, _, _ := strings.Cut(s, ": ")
	for _, n := range p.notes {
		if k, _, _ := strings.Cut(n, ": "); k == key {
			return
		}
	}
	p.notes = append(p.notes, s)
}

// held is what the runtime says the pod holds on the node.
func (p *pod) held(expectMounts bool) summary.Held {
	h := summary.Held{SandboxCgroup: p.sandboxCgroup != "", NetNS: p.netNS != "", Mounts: expectMounts}
	for id, path := range p.cgroups {
		if path != "" {
			h.Cgroups = append(h.Cgroups, id)
		}
	}
	return h
}

// completedAt says whether, and since when, the termination is over.
func (p *pod) completedAt(expectMounts bool) (time.Time, bool) {
	return p.term.CompletedAt(p.held(expectMounts))
}

// blockingPhase names where an unfinished termination hangs.
func (p *pod) blockingPhase() string {
	if p.term.Start().IsZero() {
		_, phase := p.hanging()
		return phase
	}
	return p.term.BlockingPhase(p.held(false))
}
