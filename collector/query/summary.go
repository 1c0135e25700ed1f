package query

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

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
// derived from the node's events by the rules the agent applies too.
func nodeSummary(events []*apiv1.Event) (s *apiv1.Event, fromNode bool) {
	for i := len(events) - 1; i >= 0; i-- {
		if e := events[i]; e.Kind == apiv1.KindTerminationSummary && e.Source != apiv1.SourceAPI {
			return e, true
		}
	}
	t := summary.Fold(events)
	s = &apiv1.Event{Kind: apiv1.KindTerminationSummary}
	for _, e := range events {
		if s.Pod == nil && e.Pod != nil {
			s.Pod = e.Pod
		}
		if s.Node == "" {
			s.Node = e.Node
		}
	}
	s.Time = timestamppb.New(events[len(events)-1].GetTime().AsTime())
	t.Fill(s)
	return s, false
}
