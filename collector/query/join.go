package query

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// sigkill is the one signal that is not a request to stop.
const sigkill = 9

// clusterSide is what the collector's API watches saw of one deletion.
type clusterSide struct {
	seen       bool
	pod        *apiv1.PodRef
	node       string
	deleteAt   time.Time
	grace      *int32
	finalizers []string // the latest set seen during the deletion
	// initiator and workload are the delete request's: who started the
	// termination, and the workload that owns the pod.
	initiator string
	workload  *apiv1.WorkloadRef
	// endpointOff is, per Service, when the pod's address first stopped
	// taking traffic (not ready, or gone).
	endpointOff map[string]time.Time
	deletedAt   time.Time
	stuck       *apiv1.Event // the collector's latest stuck report
	stuckFirst  time.Time    // its first stuck report

	// From the node's raw events, for when its summary is missing.
	firstAction, firstStopSignal, lastStop time.Time
}

func (c *clusterSide) add(e *apiv1.Event) {
	at := e.GetTime().AsTime()
	if e.Source != apiv1.SourceAPI {
		c.addNode(e, at)
		return
	}
	c.seen = true
	if c.pod == nil && e.Pod != nil {
		c.pod = e.Pod
	}
	if c.node == "" {
		c.node = e.Node
	}
	switch e.Kind {
	case apiv1.KindDeleteRequested:
		if c.deleteAt.IsZero() || at.Before(c.deleteAt) {
			c.deleteAt = at
		}
		if e.GracePeriodS != nil {
			c.grace = e.GracePeriodS
		}
		c.finalizers = e.Finalizers
		if e.Initiator != "" {
			c.initiator = e.Initiator
		}
		if e.Workload != nil {
			c.workload = e.Workload
		}
	case apiv1.KindFinalizersChanged:
		c.finalizers = e.Finalizers
	case apiv1.KindEndpointNotReady, apiv1.KindEndpointRemoved:
		if c.endpointOff == nil {
			c.endpointOff = map[string]time.Time{}
		}
		if prev, ok := c.endpointOff[e.Service]; !ok || at.Before(prev) {
			c.endpointOff[e.Service] = at
		}
	case apiv1.KindPodDeleted:
		c.deletedAt = at
	case apiv1.KindStuck:
		if c.stuckFirst.IsZero() {
			c.stuckFirst = at
		}
		c.stuck = e
	}
}

// addNode notes the node's first actions, used when it sent no summary.
func (c *clusterSide) addNode(e *apiv1.Event, at time.Time) {
	if c.deleteAt.IsZero() || at.Before(c.deleteAt) {
		return
	}
	switch e.Kind {
	case apiv1.KindPreStopExec, apiv1.KindSignalGenerated, apiv1.KindContainerExited:
		if c.firstAction.IsZero() {
			c.firstAction = at
		}
	}
	if e.Kind == apiv1.KindSignalGenerated && e.GetSignal().GetNumber() != sigkill && c.firstStopSignal.IsZero() {
		c.firstStopSignal = at
	}
	if e.Kind == apiv1.KindSandboxStopped || e.Kind == apiv1.KindContainerStopped {
		c.lastStop = at
	}
}

// endpointsOff is when the last Service stopped sending the pod traffic:
// until then, some client could still reach it.
func (c *clusterSide) endpointsOff() time.Time {
	var last time.Time
	for _, at := range c.endpointOff {
		if at.After(last) {
			last = at
		}
	}
	return last
}

// joinCluster adds the cluster side to the node's summary: the delete
// request, the endpoints and the object's removal, with the lags between
// them, and a stuck verdict when the collector found the object held. The
// node's summary is returned as is when the API watches saw nothing.
func joinCluster(node *apiv1.Event, fromNode bool, events []*apiv1.Event) *apiv1.Event {
	var c clusterSide
	for _, e := range events {
		if e.Source == apiv1.SourceAPI && e.Kind == apiv1.KindDeleteRequested {
			c.add(e) // the delete time first: node events are read relative to it
		}
	}
	for _, e := range events {
		if !(e.Source == apiv1.SourceAPI && e.Kind == apiv1.KindDeleteRequested) {
			c.add(e)
		}
	}
	if !c.seen {
		return node
	}
	s := proto.Clone(node).(*apiv1.Event)
	if s.Pod == nil {
		s.Pod = c.pod
	}
	if s.Node == "" {
		s.Node = c.node
	}
	if s.GracePeriodS == nil {
		s.GracePeriodS = c.grace
	}
	s.Initiator, s.Workload = c.initiator, c.workload
	var firstAction, stopSignal, nodeDone time.Time
	if fromNode {
		firstAction, stopSignal, nodeDone = nodeTimes(s, c.deleteAt)
	}
	// Without the node's summary, or where it lacks them, its raw events tell.
	firstAction = orTime(firstAction, c.firstAction)
	stopSignal = orTime(stopSignal, c.firstStopSignal)
	nodeDone = orTime(nodeDone, c.lastStop)
	if !c.deleteAt.IsZero() && !firstAction.IsZero() {
		s.ApiToNode = durationpb.New(firstAction.Sub(c.deleteAt))
	}
	if off := c.endpointsOff(); !off.IsZero() && !stopSignal.IsZero() {
		lag := stopSignal.Sub(off)
		risk := lag < 0
		s.EndpointLag, s.TrafficRisk = durationpb.New(lag), &risk
	}
	if !c.deletedAt.IsZero() {
		if !nodeDone.IsZero() {
			s.NodeToApi = durationpb.New(c.deletedAt.Sub(nodeDone))
		}
		if c.deletedAt.After(s.GetTime().AsTime()) {
			s.Time = timestamppb.New(c.deletedAt)
		}
	}
	switch {
	case c.stuck != nil && c.deletedAt.IsZero():
		s.Verdict = apiv1.VerdictStuck
		s.BlockingPhase = c.stuck.BlockingPhase
		s.Since, s.Finalizers = c.stuck.Since, c.stuck.Finalizers
		s.Evidence = append(slices.Clone(c.stuck.Evidence), s.Evidence...)
	case c.stuck != nil && c.stuck.BlockingPhase == apiv1.PhaseFinalizers:
		s.Evidence = append(s.Evidence, fmt.Sprintf("finalizers held the object until %s (%s after the first stuck report): %s",
			c.deletedAt.UTC().Format(time.RFC3339), c.deletedAt.Sub(c.stuckFirst).Round(time.Millisecond), strings.Join(c.stuck.Finalizers, ", ")))
	}
	return s
}

// nodeTimes reads the node's first action after deleteAt, its stop signal
// and when it was done (by the summary package's rule) from its summary's
// phases.
func nodeTimes(s *apiv1.Event, deleteAt time.Time) (firstAction, stopSignal, done time.Time) {
	for _, p := range s.Phases {
		start := p.GetStart().AsTime()
		if p.GetStart() != nil && (firstAction.IsZero() || start.Before(firstAction)) && !start.Before(deleteAt) {
			firstAction = start
		}
		if p.Name == apiv1.PhaseStopSignal && p.GetStart() != nil {
			stopSignal = start
		}
	}
	done, _ = summary.Done(s)
	return firstAction, stopSignal, done
}

func orTime(t, otherwise time.Time) time.Time {
	if t.IsZero() {
		return otherwise
	}
	return t
}
