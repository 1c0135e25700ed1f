package summary

import apiv1 "github.com/graceline/graceline/api/v1"

// PodCause is the one cause that speaks for a pod in per-workload counts:
// the first container, in the summary's order, whose cause is not a clean
// exit on the stop signal, since that is the container to change; else
// the first container's. It is nil for a summary without causes.
func PodCause(s *apiv1.Event) *apiv1.ContainerCause {
	causes := s.GetCauses()
	for _, c := range causes {
		if c.GetCause() != apiv1.CauseExitedOnStopSignal {
			return c
		}
	}
	if len(causes) > 0 {
		return causes[0]
	}
	return nil
}
