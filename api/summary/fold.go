package summary

import apiv1 "github.com/graceline/graceline/api/v1"

// Fold folds a pod's events, in time order, into its pod termination. The
// events of a container that has a container_summary of its own (it
// restarted while the pod lived on) belong to that container's termination
// and are left out, so that a restart neither begins nor prolongs the pod's.
func Fold(events []*apiv1.Event) *Termination {
	own := map[string]bool{}
	for _, e := range events {
		if e.Kind == apiv1.KindContainerSummary && e.GetContainer().GetId() != "" {
			own[e.GetContainer().GetId()] = true
		}
	}
	t := New()
	for _, e := range events {
		if !own[e.GetContainer().GetId()] {
			t.Add(e)
		}
	}
	return t
}
