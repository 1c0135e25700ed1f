package query

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

const sigkill = 9

// Summarize returns a pod's termination_summary: the newest one its agent
// sent, or else one derived from whatever kinds the pod's events include, so
// that listing works before (and without) the agent's own summaries; joined
// with the cluster side when the collector watched the API. events must be
// in time order. A derived summary leaves out what events do not tell (the
// grace period, for one).
func Summarize(events []*apiv1.Event) *apiv1.Event {
	if len(events) == 0 {
		return nil
	}
	s, fromNode := nodeSummary(events)
	return joinCluster(s, fromNode, events)
}

// nodeSummary is the newest summary from the pod's node (fromNode), or one
// derived from the node's events.
func nodeSummary(events []*apiv1.Event) (s *apiv1.Event, fromNode bool) {
	for i := len(events) - 1; i >= 0; i-- {
		if e := events[i]; e.Kind == apiv1.KindTerminationSummary && e.Source != apiv1.SourceAPI {
			return e, true
		}
	}
	var d derivation
	for _, e := range events {
		d.add(e)
	}
	return d.summary(), false
}

// derivation gathers what a summary needs in one pass over the events.
type derivation struct {
	pod          *apiv1.PodRef
	node         string
	first, last  time.Time
	stopStart    time.Time // delete request, preStop or first signal or exit
	stopEnd      time.Time // last container stopped
	sandboxStop  time.Time
	sandboxGone  time.Time
	lastStuck    time.Time
	lastProgress time.Time
	killed       bool
	exitCodes    map[string]int32
}

func (d *derivation) add(e *apiv1.Event) {
	at := e.GetTime().AsTime()
	if d.pod == nil && e.Pod != nil {
		d.pod = e.Pod
	}
	if d.node == "" {
		d.node = e.Node
	}
	if d.first.IsZero() {
		d.first = at
	}
	d.last = at
	if e.Kind == apiv1.KindStuck {
		d.lastStuck = at
		return
	}
	if e.Source == apiv1.SourceAPI {
		return // the cluster side, which joinCluster adds
	}
	d.lastProgress = at
	switch e.Kind {
	case apiv1.KindPreStopExec, apiv1.KindSignalGenerated, apiv1.KindContainerExited:
		if d.stopStart.IsZero() {
			d.stopStart = at
		}
	}
	switch e.Kind {
	case apiv1.KindSignalGenerated:
		d.killed = d.killed || e.GetSignal().GetNumber() == sigkill
	case apiv1.KindProcessExited:
		d.killed = d.killed || e.GetExitSignal() == sigkill
	case apiv1.KindContainerExited:
		if e.ExitCode != nil {
			if d.exitCodes == nil {
				d.exitCodes = map[string]int32{}
			}
			d.exitCodes[e.GetContainer().GetName()] = *e.ExitCode
			// 128+9: the runtime killed the init process with SIGKILL.
			d.killed = d.killed || *e.ExitCode == 128+sigkill
		}
	case apiv1.KindContainerStopped:
		d.stopEnd = at
	case apiv1.KindSandboxStopped:
		d.sandboxStop = at
	case apiv1.KindSandboxRemoved:
		d.sandboxGone = at
	}
}

func (d *derivation) summary() *apiv1.Event {
	s := &apiv1.Event{
		Kind: apiv1.KindTerminationSummary, Time: timestamppb.New(d.last), Node: d.node, Pod: d.pod,
		ExitCodes: d.exitCodes,
	}
	if !d.stopStart.IsZero() && !d.stopEnd.IsZero() && !d.stopEnd.Before(d.stopStart) {
		s.Phases = append(s.Phases, phase("stop", d.stopStart, d.stopEnd))
	}
	if !d.sandboxStop.IsZero() && !d.sandboxGone.IsZero() {
		s.Phases = append(s.Phases, phase("teardown", d.sandboxStop, d.sandboxGone))
	}
	killed := d.killed
	s.Killed = &killed
	switch {
	case !d.lastStuck.IsZero() && !d.lastStuck.Before(d.lastProgress):
		s.Verdict = apiv1.VerdictStuck
	case killed:
		s.Verdict = apiv1.VerdictKilled
	case !d.sandboxStop.IsZero() || !d.sandboxGone.IsZero():
		s.Verdict = apiv1.VerdictGraceful
	}
	return s
}

func phase(name string, start, end time.Time) *apiv1.Phase {
	return &apiv1.Phase{Name: name, Start: timestamppb.New(start), End: timestamppb.New(end)}
}
