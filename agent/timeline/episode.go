package timeline

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// episode is one container's stop, exit or kill while its pod's sandbox is
// up. At its first sign the node cannot tell a restart from the start of
// the pod's deletion, so its events are held apart from the pod's
// termination until the outcome shows: a new container of the same name in
// the sandbox, or none for Config.Decide after it ended, makes it the
// container's own termination (a container_summary); the sandbox stopping
// makes its events the first of the pod's deletion. A decision made for the
// quiet alone is taken back when the sandbox stops soon after with no new
// container in between (see reviseQuiet).
type episode struct {
	id, name string
	term     *summary.Termination
	// events are replayed into the pod's termination if it turns out to
	// be its deletion.
	events []*apiv1.Event
	// decidedAt is when it was decided to be the container's own; zero
	// while undecided.
	decidedAt time.Time
	// stuckReported is set when the pod was reported stuck while this
	// container's stop hung undecided.
	stuckReported time.Time
	// cgroup is the container's cgroup, which its pod no longer waits for
	// once the episode is decided.
	cgroup    string
	hasCgroup bool
}

// openEpisode starts an episode with e when e is, by the summary rules, the
// first sign of the container's termination; nil when it is not. Only the
// kinds that show the node stopping something are tried, so that the
// chatty kinds (process exits, execs) cost nothing here.
func (p *pod) openEpisode(id, name string, e *apiv1.Event) *episode {
	if k, _ := apiv1.LookupKind(e.Kind); k.Role&apiv1.RoleNodeAction == 0 {
		return nil
	}
	known, _ := p.term.Known(id)
	if name == "" {
		name = known.Name
	}
	t := summary.NewContainer(id, name, known.Pid)
	t.CarryOOM(id, known.OOM)
	t.Add(e)
	if t.Start().IsZero() {
		return nil
	}
	ep := &episode{id: id, name: name, term: t, events: []*apiv1.Event{e}}
	p.episodes[id] = ep
	return ep
}

// newContainer decides, as restarts, the episodes of earlier containers of
// the same name: the kubelet creates the new one only once the old one
// stopped, and never while it deletes the pod.
func (p *pod) newContainer(id, name string, at time.Time) {
	if name == "" || !p.term.Start().IsZero() {
		return
	}
	for _, ep := range p.episodes {
		if ep.id != id && ep.name == name {
			p.decideOwn(ep, at)
		}
	}
	// The container was replaced: its quiet decision stands.
	p.quiet = slices.DeleteFunc(p.quiet, func(ep *episode) bool { return ep.id != id && ep.name == name })
}

// decideOwn makes ep the container's own termination: the pod's no longer
// waits for the container, and its later events are not the pod's.
func (p *pod) decideOwn(ep *episode, at time.Time) {
	delete(p.episodes, ep.id)
	p.own[ep.id] = true
	p.term.Forget(ep.id)
	ep.cgroup, ep.hasCgroup = p.cgroups[ep.id]
	delete(p.cgroups, ep.id)
	ep.decidedAt, ep.events = at, nil
	if !p.stuckReported.IsZero() && len(p.episodes) == 0 {
		// The stuck report was about this container's stop, not the pod.
		ep.stuckReported, p.stuckReported = p.stuckReported, time.Time{}
	}
	p.restarts = append(p.restarts, ep)
}

// decideDeletion makes every undecided episode part of the pod's deletion,
// which thereby starts at the first of their signs.
func (p *pod) decideDeletion() {
	var events []*apiv1.Event
	for id, ep := range p.episodes {
		events = append(events, ep.events...)
		delete(p.episodes, id)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].GetTime().AsTime().Before(events[j].GetTime().AsTime()) })
	for _, e := range events {
		p.term.Add(e)
	}
}

// isDeletion says whether e shows the pod's sandbox being stopped, which
// the kubelet does only when the pod itself goes: the sandbox stopped or
// removed, or the network teardown of StopPodSandbox failing.
func isDeletion(e *apiv1.Event) bool {
	switch e.Kind {
	case apiv1.KindSandboxStopped, apiv1.KindSandboxRemoved:
		return e.Source != apiv1.SourceAPI
	case apiv1.KindCNIPluginFailed:
		_, ok := cniDelFailure(e)
		return ok
	}
	return false
}

// maxDecide bounds how long a container's ended stop waits for its pod's
// sandbox to stop while the node's runtime is busy stopping others: a
// hundred pods deleted at once on a small node take the runtime half a
// minute to work through.
const maxDecide = 2 * time.Minute

// decideQuiet decides, as the containers' own, the episodes of a pod whose
// containers all ended at least decide ago while its sandbox stayed up: a
// stop by hand, a crash or a completion that the kubelet follows with no
// new container and no deletion. While one container's stop still runs,
// the others wait, since a deletion stops every container at once. While
// the runtime is busy stopping other pods too (stopping: their container
// stops wait undecided as well, or a sandbox stopped within decide), the
// wait goes on, up to maxDecide: the pod may be one of many deleted at
// once, its sandbox's stop still queued behind theirs.
func (p *pod) decideQuiet(now time.Time, decide time.Duration, stopping bool) {
	if len(p.episodes) == 0 || !p.term.Start().IsZero() {
		return
	}
	var last time.Time
	for _, ep := range p.episodes {
		if !ep.term.Ended() {
			return
		}
		if end := ep.term.End(); end.After(last) {
			last = end
		}
	}
	if now.Sub(last) < decide || (stopping && now.Sub(last) < maxDecide) {
		return
	}
	for _, ep := range p.episodes {
		events := ep.events
		p.decideOwn(ep, now)
		// Kept in case the sandbox stops soon: see reviseQuiet.
		ep.events = events
		p.quiet = append(p.quiet, ep)
	}
}

// maxRevise bounds how long after a container's stop ended its pod's
// sandbox stop still takes back a decision made for the quiet alone.
const maxRevise = time.Minute

// reviseQuiet takes back, as the first signs of the pod's deletion, the
// container stops decided as their own because nothing followed them:
// the sandbox now stops, within maxRevise and with no new container in
// between, which is a deletion whose sandbox stop a loaded runtime was slow
// to reach. A container summary already sent stays; the pod's summary
// then covers the same stop as well.
func (p *pod) reviseQuiet(at time.Time) {
	for _, ep := range p.quiet {
		if at.Sub(ep.term.End()) > maxRevise {
			continue
		}
		delete(p.own, ep.id)
		p.restarts = slices.DeleteFunc(p.restarts, func(r *episode) bool { return r == ep })
		if known, ok := ep.term.Known(ep.id); ok {
			p.term.Container(ep.id, known.Name, known.Pid)
			p.term.CarryOOM(ep.id, known.OOM)
		}
		if ep.hasCgroup {
			p.cgroups[ep.id] = ep.cgroup
		}
		ep.decidedAt = time.Time{}
		p.episodes[ep.id] = ep
	}
	p.quiet = nil
}

// readyRestarts returns the container summaries due: those whose container
// ended, or that were decided settle ago without its end being seen.
func (p *pod) readyRestarts(node string, now time.Time, settle time.Duration) []*apiv1.Event {
	p.quiet = slices.DeleteFunc(p.quiet, func(ep *episode) bool { return now.Sub(ep.term.End()) > maxRevise })
	var out []*apiv1.Event
	kept := p.restarts[:0]
	for _, ep := range p.restarts {
		if !ep.term.Ended() && now.Sub(ep.decidedAt) < settle {
			kept = append(kept, ep)
			continue
		}
		out = append(out, p.containerSummary(node, ep))
	}
	p.restarts = kept
	return out
}

// containerSummary is ep's container_summary, by the summary rules.
func (p *pod) containerSummary(node string, ep *episode) *apiv1.Event {
	end := ep.term.End()
	if end.IsZero() {
		end = ep.decidedAt
	}
	e := &apiv1.Event{Kind: apiv1.KindContainerSummary, Time: timestamppb.New(end), Node: node, Pod: p.ref,
		Container: &apiv1.ContainerRef{Id: ep.id, Name: ep.name}}
	if !ep.stuckReported.IsZero() {
		e.Evidence = append(e.Evidence, fmt.Sprintf("was reported stuck; took %s in all", end.Sub(ep.term.Start()).Round(time.Millisecond)))
	}
	ep.term.Fill(e)
	if code, ok := e.ExitCodes[ep.name]; ok {
		e.ExitCode = &code
	}
	if p.grace >= 0 {
		g := int32(p.grace)
		e.GracePeriodS = &g
	}
	return e
}

// hanging is the first sign of the undecided container stop that runs
// longest, and its blocking phase; zero when none runs. The pod rules for
// stuck apply to it: a stop that outlives the grace period and the slack
// is a hang whether the pod lives on or is being deleted.
func (p *pod) hanging() (start time.Time, phase string) {
	for _, ep := range p.episodes {
		if ep.term.Ended() {
			continue
		}
		if s := ep.term.Start(); start.IsZero() || s.Before(start) {
			start, phase = s, ep.term.BlockingPhase(summary.Held{})
		}
	}
	return start, phase
}
