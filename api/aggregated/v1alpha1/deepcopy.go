package v1alpha1

import (
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The API machinery copies objects it may change; these copies share
// nothing with their source.

func copyTime(t *metav1.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	return t.DeepCopy()
}

func copyCauses(in []ContainerCause) []ContainerCause {
	if in == nil {
		return nil
	}
	out := make([]ContainerCause, len(in))
	for i, c := range in {
		c.Facts = slices.Clone(c.Facts)
		out[i] = c
	}
	return out
}

// DeepCopyInto copies s into out.
func (s *PodTerminationStatus) DeepCopyInto(out *PodTerminationStatus) {
	*out = *s
	if s.GracePeriodSeconds != nil {
		g := *s.GracePeriodSeconds
		out.GracePeriodSeconds = &g
	}
	if s.Duration != nil {
		d := *s.Duration
		out.Duration = &d
	}
	if s.Phases != nil {
		out.Phases = make([]Phase, len(s.Phases))
		for i, p := range s.Phases {
			out.Phases[i] = Phase{Name: p.Name, Start: p.Start.DeepCopy(), End: p.End.DeepCopy()}
		}
	}
	out.Containers = copyCauses(s.Containers)
	out.ExitCodes = maps.Clone(s.ExitCodes)
	out.Evidence = slices.Clone(s.Evidence)
	if s.EndpointLag != nil {
		d := *s.EndpointLag
		out.EndpointLag = &d
	}
	if s.TrafficRisk != nil {
		r := *s.TrafficRisk
		out.TrafficRisk = &r
	}
	out.LastEventTime = copyTime(s.LastEventTime)
}

// DeepCopyInto copies p into out.
func (p *PodTermination) DeepCopyInto(out *PodTermination) {
	*out = *p
	p.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	p.Status.DeepCopyInto(&out.Status)
}

// DeepCopy returns a copy of p.
func (p *PodTermination) DeepCopy() *PodTermination {
	if p == nil {
		return nil
	}
	out := new(PodTermination)
	p.DeepCopyInto(out)
	return out
}

// DeepCopyObject returns a copy of p.
func (p *PodTermination) DeepCopyObject() runtime.Object { return p.DeepCopy() }

// DeepCopyObject returns a copy of l.
func (l *PodTerminationList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &PodTerminationList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]PodTermination, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}

// DeepCopyObject returns a copy of t.
func (t *PodTerminationTimeline) DeepCopyObject() runtime.Object {
	if t == nil {
		return nil
	}
	out := &PodTerminationTimeline{TypeMeta: t.TypeMeta}
	t.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if t.Events != nil {
		out.Events = make([]runtime.RawExtension, len(t.Events))
		for i := range t.Events {
			t.Events[i].DeepCopyInto(&out.Events[i])
		}
	}
	if t.Summary != nil {
		out.Summary = new(runtime.RawExtension)
		t.Summary.DeepCopyInto(out.Summary)
	}
	return out
}

// DeepCopyInto copies s into out.
func (s *StuckPod) DeepCopyInto(out *StuckPod) {
	*out = *s
	s.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Status.Since = copyTime(s.Status.Since)
	out.Status.Evidence = slices.Clone(s.Status.Evidence)
	out.Status.Containers = copyCauses(s.Status.Containers)
	out.Status.Finalizers = slices.Clone(s.Status.Finalizers)
}

// DeepCopyObject returns a copy of s.
func (s *StuckPod) DeepCopyObject() runtime.Object {
	if s == nil {
		return nil
	}
	out := new(StuckPod)
	s.DeepCopyInto(out)
	return out
}

// DeepCopyObject returns a copy of l.
func (l *StuckPodList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &StuckPodList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]StuckPod, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}

// DeepCopyObject returns a copy of o.
func (o *TimelineOptions) DeepCopyObject() runtime.Object {
	if o == nil {
		return nil
	}
	out := *o
	return &out
}

// DeepCopyInto copies r into out.
func (r *WorkloadReport) DeepCopyInto(out *WorkloadReport) {
	*out = *r
	r.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Status.Since = copyTime(r.Status.Since)
	if r.Status.DurationP50 != nil {
		d := *r.Status.DurationP50
		out.Status.DurationP50 = &d
	}
	if r.Status.DurationP95 != nil {
		d := *r.Status.DurationP95
		out.Status.DurationP95 = &d
	}
	out.Status.Initiators = maps.Clone(r.Status.Initiators)
}

// DeepCopyObject returns a copy of r.
func (r *WorkloadReport) DeepCopyObject() runtime.Object {
	if r == nil {
		return nil
	}
	out := new(WorkloadReport)
	r.DeepCopyInto(out)
	return out
}

// DeepCopyObject returns a copy of l.
func (l *WorkloadReportList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &WorkloadReportList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]WorkloadReport, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}

func copyDuration(d *metav1.Duration) *metav1.Duration {
	if d == nil {
		return nil
	}
	c := *d
	return &c
}

func copyPrediction(p *Prediction) *Prediction {
	if p == nil {
		return nil
	}
	c := *p
	c.Facts = slices.Clone(p.Facts)
	return &c
}

// DeepCopyInto copies c into out.
func (c *TerminationCheck) DeepCopyInto(out *TerminationCheck) {
	*out = *c
	c.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Status.Prediction = copyPrediction(c.Status.Prediction)
	out.Status.Grace = copyDuration(c.Status.Grace)
	out.Status.ShutdownP95 = copyDuration(c.Status.ShutdownP95)
	r := &c.Status.Readiness
	out.Status.Readiness.Time = r.Time.DeepCopy()
	out.Status.Readiness.Prediction = copyPrediction(r.Prediction)
	if r.Processes != nil {
		out.Status.Readiness.Processes = make([]Process, len(r.Processes))
		for i, p := range r.Processes {
			p.Argv = slices.Clone(p.Argv)
			p.Started = p.Started.DeepCopy()
			p.SigIgnored, p.SigCaught = slices.Clone(p.SigIgnored), slices.Clone(p.SigCaught)
			p.SigBlocked, p.SigPending = slices.Clone(p.SigBlocked), slices.Clone(p.SigPending)
			out.Status.Readiness.Processes[i] = p
		}
	}
}

// DeepCopyObject returns a copy of c.
func (c *TerminationCheck) DeepCopyObject() runtime.Object {
	if c == nil {
		return nil
	}
	out := new(TerminationCheck)
	c.DeepCopyInto(out)
	return out
}

// DeepCopyObject returns a copy of l.
func (l *TerminationCheckList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &TerminationCheckList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]TerminationCheck, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}
