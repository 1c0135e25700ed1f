package summary

import (
	"cmp"
	"slices"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// PodCause is the one cause that stands for a whole pod's termination, for
// readers that count pods rather than containers (the collector's
// graceline_terminations_total, for one). The rule: the first container in
// name order whose cause explains a forced end (anything but an exit on
// the stop signal, an exit before the stop, or unknown) decides, since that
// container is why the pod ended the way it did; without one, unknown wins
// over a good end, so that a pod is never counted as clean on the word of
// one container while another's end is not known; then the first
// container's cause. A pod without causes, or a cause outside the closed
// set, is unknown.
func PodCause(s *apiv1.Event) string {
	// Summaries list causes in name order already; an agent's word is not
	// trusted for it.
	causes := slices.Clone(s.GetCauses())
	slices.SortStableFunc(causes, func(a, b *apiv1.ContainerCause) int {
		return cmp.Compare(a.GetContainer().GetName(), b.GetContainer().GetName())
	})
	var unknown bool
	first := ""
	for _, c := range causes {
		cause := c.GetCause()
		if _, ok := apiv1.LookupCause(cause); !ok {
			cause = apiv1.CauseUnknown
		}
		if first == "" {
			first = cause
		}
		switch cause {
		case apiv1.CauseUnknown:
			unknown = true
		case apiv1.CauseExitedOnStopSignal, apiv1.CauseExitedBeforeStop:
		default:
			return cause
		}
	}
	if unknown || first == "" {
		return apiv1.CauseUnknown
	}
	return first
}

// Span is how long a termination took by its summary's phases: from the
// first phase's start to the last phase's end, which is what `kubectl
// graceline list` shows. ok is false when s has no phase.
func Span(s *apiv1.Event) (d time.Duration, ok bool) {
	var start, end time.Time
	for _, p := range s.GetPhases() {
		if p.GetStart() == nil || p.GetEnd() == nil {
			continue
		}
		if st := p.GetStart().AsTime(); start.IsZero() || st.Before(start) {
			start = st
		}
		if en := p.GetEnd().AsTime(); en.After(end) {
			end = en
		}
	}
	if start.IsZero() || end.Before(start) {
		return 0, false
	}
	return end.Sub(start), true
}
