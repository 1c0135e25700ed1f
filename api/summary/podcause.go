package summary

import (
	"cmp"
	"slices"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// PodCause is the container cause that stands for a whole pod's
// termination, for readers that count pods rather than containers (the
// collector's graceline_terminations_total and its per-workload report).
// The rule: the first container in name order whose cause explains a
// forced end (anything but an exit on the stop signal, an exit before the
// stop, or unknown) decides, since that container is why the pod ended the
// way it did and the one to change; without one, an unknown cause (or one
// outside the closed set) wins over a good end, so that a pod is never
// counted as clean on the word of one container while another's end is
// not known; then the first container's cause. It is nil for a summary
// without causes.
func PodCause(s *apiv1.Event) *apiv1.ContainerCause {
	// Summaries list causes in name order already; an agent's word is not
	// trusted for it.
	causes := slices.Clone(s.GetCauses())
	slices.SortStableFunc(causes, func(a, b *apiv1.ContainerCause) int {
		return cmp.Compare(a.GetContainer().GetName(), b.GetContainer().GetName())
	})
	var unknown *apiv1.ContainerCause
	for _, c := range causes {
		if _, ok := apiv1.LookupCause(c.GetCause()); !ok || c.GetCause() == apiv1.CauseUnknown {
			if unknown == nil {
				unknown = c
			}
			continue
		}
		switch c.GetCause() {
		case apiv1.CauseExitedOnStopSignal, apiv1.CauseExitedBeforeStop:
		default:
			return c
		}
	}
	if unknown != nil {
		return unknown
	}
	if len(causes) > 0 {
		return causes[0]
	}
	return nil
}

// PodCauseName is PodCause's cause, as a label: unknown for a pod without
// causes or with one outside the closed set.
func PodCauseName(s *apiv1.Event) string {
	c := PodCause(s)
	if _, ok := apiv1.LookupCause(c.GetCause()); !ok {
		return apiv1.CauseUnknown
	}
	return c.GetCause()
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
