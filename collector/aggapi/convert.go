package aggapi

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// The verdict, the pod's cause and the duration are read with api/summary's
// rules, so that the API, the CLI and the metrics say the same.

// toTermination turns a termination_summary into a PodTermination.
func toTermination(s *apiv1.Event) *PodTermination {
	t := &PodTermination{
		TypeMeta:   metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: "PodTermination"},
		ObjectMeta: podMeta(s),
		Status: PodTerminationStatus{
			NodeName:           s.GetNode(),
			Verdict:            s.GetVerdict(),
			Cause:              summary.PodCauseName(s),
			Initiator:          s.GetInitiator(),
			GracePeriodSeconds: s.GracePeriodS,
			Killed:             s.GetKilled(),
			Containers:         causes(s.GetCauses()),
			ExitCodes:          s.GetExitCodes(),
			BlockingPhase:      s.GetBlockingPhase(),
			Evidence:           s.GetEvidence(),
		},
	}
	if d, ok := summary.Span(s); ok {
		t.Status.Duration = &metav1.Duration{Duration: d}
	}
	for _, p := range s.GetPhases() {
		t.Status.Phases = append(t.Status.Phases, Phase{Name: p.GetName(), Start: timeOf(p.GetStart()), End: timeOf(p.GetEnd())})
	}
	return t
}

// toStuck turns a stuck report (or a summary whose verdict is stuck) into a
// StuckPod.
func toStuck(e *apiv1.Event) *StuckPod {
	return &StuckPod{
		TypeMeta:   metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: "StuckPod"},
		ObjectMeta: podMeta(e),
		Status: StuckPodStatus{
			NodeName:      e.GetNode(),
			Since:         timeOf(e.GetSince()),
			BlockingPhase: e.GetBlockingPhase(),
			Evidence:      e.GetEvidence(),
			Containers:    causes(e.GetCauses()),
		},
	}
}

// podMeta names an object after its pod. Its creation time is when the
// termination began (its first phase), so that kubectl's AGE column says
// how long ago the pod was asked to stop.
func podMeta(e *apiv1.Event) metav1.ObjectMeta {
	began := e.GetTime().AsTime()
	if e.GetSince() != nil {
		began = e.GetSince().AsTime()
	}
	for _, p := range e.GetPhases() {
		if st := p.GetStart(); st != nil && st.AsTime().Before(began) {
			began = st.AsTime()
		}
	}
	return metav1.ObjectMeta{
		Name:              e.GetPod().GetName(),
		Namespace:         e.GetPod().GetNamespace(),
		UID:               types.UID(e.GetPod().GetUid()),
		CreationTimestamp: metav1.NewTime(began.Truncate(time.Second)),
	}
}

func causes(in []*apiv1.ContainerCause) []ContainerCause {
	var out []ContainerCause
	for _, c := range in {
		out = append(out, ContainerCause{Name: c.GetContainer().GetName(), Cause: c.GetCause(), Advice: c.GetAdvice(), Facts: c.GetFacts()})
	}
	return out
}

func timeOf(ts *timestamppb.Timestamp) *metav1.Time {
	if ts == nil {
		return nil
	}
	t := metav1.NewTime(ts.AsTime())
	return &t
}
