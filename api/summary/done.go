package summary

import (
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Done reads from a termination_summary when the node finished: the end of
// its last phase but removal, which is the runtime's garbage collection and
// can come long after the kubelet may delete the object. ok is false when s
// has no such phase.
func Done(s *apiv1.Event) (done time.Time, ok bool) {
	for _, p := range s.GetPhases() {
		if p.Name != apiv1.PhaseRemoval && p.GetEnd() != nil && p.GetEnd().AsTime().After(done) {
			done = p.GetEnd().AsTime()
		}
	}
	return done, !done.IsZero()
}

// NodeDone is when the node finished by its summary s: Done, or else the
// summary's own time.
func NodeDone(s *apiv1.Event) time.Time {
	if done, ok := Done(s); ok {
		return done
	}
	return s.GetTime().AsTime()
}
