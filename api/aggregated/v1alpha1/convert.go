package v1alpha1

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// This file is the one place where the event contract and the aggregated
// API's types meet, both ways: the collector serves ToTermination and
// ToStuck, and kubectl-graceline turns what it reads back with
// FromTermination and FromStuck, so that both print with the same rules.
// The verdict, the pod's cause and the duration are read with api/summary's
// rules, so that the API, the CLI and the metrics say the same.

// ToTermination turns a termination_summary into a PodTermination.
func ToTermination(s *apiv1.Event) *PodTermination {
	t := &PodTermination{
		TypeMeta:   metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: "PodTermination"},
		ObjectMeta: PodMeta(s),
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
			TrafficRisk:        s.TrafficRisk,
			LastEventTime:      timeOf(s.GetTime()),
		},
	}
	if d, ok := summary.Span(s); ok {
		t.Status.Duration = &metav1.Duration{Duration: d}
	}
	if lag := s.GetEndpointLag(); lag != nil {
		t.Status.EndpointLag = &metav1.Duration{Duration: lag.AsDuration()}
	}
	for _, p := range s.GetPhases() {
		t.Status.Phases = append(t.Status.Phases, Phase{Name: p.GetName(), Start: microTimeOf(p.GetStart()), End: microTimeOf(p.GetEnd())})
	}
	setLabel(&t.ObjectMeta, LabelVerdict, s.GetVerdict())
	setLabel(&t.ObjectMeta, LabelNode, s.GetNode())
	return t
}

// FromTermination turns a PodTermination back into the termination_summary
// it was made from, as far as the API carries it.
func FromTermination(t *PodTermination) *apiv1.Event {
	st := &t.Status
	e := &apiv1.Event{
		Kind:          apiv1.KindTerminationSummary,
		Time:          stamp(st.LastEventTime),
		Node:          st.NodeName,
		Pod:           podRef(t.ObjectMeta),
		Verdict:       st.Verdict,
		Initiator:     st.Initiator,
		GracePeriodS:  st.GracePeriodSeconds,
		Killed:        &st.Killed,
		Causes:        fromCauses(st.Containers),
		ExitCodes:     st.ExitCodes,
		BlockingPhase: st.BlockingPhase,
		Evidence:      st.Evidence,
		TrafficRisk:   st.TrafficRisk,
	}
	if e.Time == nil {
		e.Time = timestamppb.New(t.CreationTimestamp.Time)
	}
	if st.EndpointLag != nil {
		e.EndpointLag = durationpb.New(st.EndpointLag.Duration)
	}
	for _, p := range st.Phases {
		e.Phases = append(e.Phases, &apiv1.Phase{Name: p.Name, Start: microStamp(p.Start), End: microStamp(p.End)})
	}
	return e
}

// TerminationList turns termination_summary events into a list.
func TerminationList(summaries []*apiv1.Event) *PodTerminationList {
	l := &PodTerminationList{TypeMeta: metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: "PodTerminationList"}, Items: []PodTermination{}}
	for _, s := range summaries {
		l.Items = append(l.Items, *ToTermination(s))
	}
	return l
}

// StuckList turns stuck reports into a list.
func StuckList(reports []*apiv1.Event) *StuckPodList {
	l := &StuckPodList{TypeMeta: metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: "StuckPodList"}, Items: []StuckPod{}}
	for _, e := range reports {
		l.Items = append(l.Items, *ToStuck(e))
	}
	return l
}

// ToStuck turns a stuck report (or a summary whose verdict is stuck) into a
// StuckPod.
func ToStuck(e *apiv1.Event) *StuckPod {
	p := &StuckPod{
		TypeMeta:   metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: "StuckPod"},
		ObjectMeta: PodMeta(e),
		Status: StuckPodStatus{
			NodeName:      e.GetNode(),
			Source:        e.GetSource(),
			Since:         timeOf(e.GetSince()),
			BlockingPhase: e.GetBlockingPhase(),
			Evidence:      e.GetEvidence(),
			Containers:    causes(e.GetCauses()),
			Finalizers:    e.GetFinalizers(),
		},
	}
	setLabel(&p.ObjectMeta, LabelNode, e.GetNode())
	return p
}

// FromStuck turns a StuckPod back into the stuck report it was made from.
func FromStuck(p *StuckPod) *apiv1.Event {
	st := &p.Status
	e := &apiv1.Event{
		Kind:          apiv1.KindStuck,
		Time:          timestamppb.New(p.CreationTimestamp.Time),
		Node:          st.NodeName,
		Source:        st.Source,
		Pod:           podRef(p.ObjectMeta),
		Since:         stamp(st.Since),
		BlockingPhase: st.BlockingPhase,
		Evidence:      st.Evidence,
		Causes:        fromCauses(st.Containers),
		Finalizers:    st.Finalizers,
	}
	return e
}

// ToWorkloadReport turns a workload's report over the window that starts
// at since into a WorkloadReport, named after the workload.
func ToWorkloadReport(r *apiv1.WorkloadReport, since time.Time) *WorkloadReport {
	kind, name := r.GetWorkload().GetKind(), r.GetWorkload().GetName()
	w := &WorkloadReport{
		TypeMeta:   metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: "WorkloadReport"},
		ObjectMeta: metav1.ObjectMeta{Name: WorkloadReportName(kind, name), Namespace: r.GetNamespace()},
		Status: WorkloadReportStatus{
			Since:        timeOf(timestamppb.New(since)),
			WorkloadKind: kind, WorkloadName: name,
			Terminations: r.GetTerminations(), Finished: r.GetFinished(), Killed: r.GetKilled(),
			TrafficRisk: r.GetTrafficRisk(), Stuck: r.GetStuck(),
			Cause: r.GetCause(), CauseCount: r.GetCauseCount(), Advice: r.GetAdvice(), Initiators: r.GetInitiators(),
		},
	}
	if d := r.GetDurationP50(); d != nil {
		w.Status.DurationP50 = &metav1.Duration{Duration: d.AsDuration()}
	}
	if d := r.GetDurationP95(); d != nil {
		w.Status.DurationP95 = &metav1.Duration{Duration: d.AsDuration()}
	}
	return w
}

// FromWorkloadReport turns a WorkloadReport back into the workload's
// report it was made from.
func FromWorkloadReport(w *WorkloadReport) *apiv1.WorkloadReport {
	st := &w.Status
	r := &apiv1.WorkloadReport{
		Namespace: w.Namespace, Workload: &apiv1.WorkloadRef{Kind: st.WorkloadKind, Name: st.WorkloadName},
		Terminations: st.Terminations, Finished: st.Finished, Killed: st.Killed, TrafficRisk: st.TrafficRisk, Stuck: st.Stuck,
		Cause: st.Cause, CauseCount: st.CauseCount, Advice: st.Advice, Initiators: st.Initiators,
	}
	if st.DurationP50 != nil {
		r.DurationP50 = durationpb.New(st.DurationP50.Duration)
	}
	if st.DurationP95 != nil {
		r.DurationP95 = durationpb.New(st.DurationP95.Duration)
	}
	return r
}

// WorkloadReportName names a workload's report "<kind>.<name>", the kind
// in lower case: a name may hold dots but no slash.
func WorkloadReportName(kind, name string) string {
	return strings.ToLower(kind) + "." + name
}

// ToTerminationCheck turns a container's check into a TerminationCheck,
// named after its pod and container. Its creation time is the node's
// reading, so that kubectl's AGE column says how old the facts are.
func ToTerminationCheck(c *apiv1.ContainerCheck) *TerminationCheck {
	e := c.GetReadiness()
	read := microTimeOf(e.GetTime())
	t := &TerminationCheck{
		TypeMeta:   metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: "TerminationCheck"},
		ObjectMeta: metav1.ObjectMeta{Name: TerminationCheckName(c.GetPod().GetName(), c.GetContainer()), Namespace: c.GetNamespace()},
		Status: TerminationCheckStatus{
			WorkloadKind: c.GetWorkload().GetKind(), WorkloadName: c.GetWorkload().GetName(),
			PodName: c.GetPod().GetName(), PodUID: c.GetPod().GetUid(), Container: c.GetContainer(),
			Prediction: prediction(c.GetPrediction()),
			Readiness: Readiness{
				Time: read, NodeName: e.GetNode(), ContainerID: e.GetContainer().GetId(),
				StopSignal: e.GetSignal().GetNumber(), StopSignalName: e.GetSignal().GetName(), Disposition: e.GetDisposition(),
				Prediction: prediction(e.GetPrediction()),
			},
			Terminations: c.GetTerminations(), Killed: c.GetKilled(), LastCause: c.GetLastCause(),
		},
	}
	if read != nil {
		t.CreationTimestamp = metav1.NewTime(read.Truncate(time.Second))
	}
	for _, p := range e.GetProcesses() {
		t.Status.Readiness.Processes = append(t.Status.Readiness.Processes, Process{
			PID: p.GetPid(), Comm: p.GetComm(), Argv: p.GetArgv(), PPID: p.GetPpid(), State: p.GetState(), Started: microTimeOf(p.GetStarted()),
			SigIgnored: p.GetSigIgnored(), SigCaught: p.GetSigCaught(), SigBlocked: p.GetSigBlocked(), SigPending: p.GetSigPending(),
		})
	}
	if d := c.GetGrace(); d != nil {
		t.Status.Grace = &metav1.Duration{Duration: d.AsDuration()}
	}
	if d := c.GetShutdownP95(); d != nil {
		t.Status.ShutdownP95 = &metav1.Duration{Duration: d.AsDuration()}
	}
	return t
}

// FromTerminationCheck turns a TerminationCheck back into the container's
// check it was made from; its readiness is the termination_readiness the
// node sent, as far as the check needs it (not its pod's sandbox or the
// sender's details, which a readiness has none of).
func FromTerminationCheck(t *TerminationCheck) *apiv1.ContainerCheck {
	st := &t.Status
	pod := &apiv1.PodRef{Namespace: t.Namespace, Name: st.PodName, Uid: st.PodUID}
	r := &st.Readiness
	e := &apiv1.Event{
		Kind: apiv1.KindTerminationReadiness, Time: microStamp(r.Time), Node: r.NodeName, Pod: pod,
		Container:   &apiv1.ContainerRef{Id: r.ContainerID, Name: st.Container},
		Disposition: r.Disposition, Prediction: fromPrediction(r.Prediction),
	}
	if r.StopSignal != 0 || r.StopSignalName != "" {
		e.Signal = &apiv1.Signal{Number: r.StopSignal, Name: r.StopSignalName}
	}
	for _, p := range r.Processes {
		e.Processes = append(e.Processes, &apiv1.Process{
			Pid: p.PID, Comm: p.Comm, Argv: p.Argv, Ppid: p.PPID, State: p.State, Started: microStamp(p.Started),
			SigIgnored: p.SigIgnored, SigCaught: p.SigCaught, SigBlocked: p.SigBlocked, SigPending: p.SigPending,
		})
	}
	c := &apiv1.ContainerCheck{
		Namespace: t.Namespace, Pod: pod, Container: st.Container, Readiness: e, Prediction: fromPrediction(st.Prediction),
		Terminations: st.Terminations, Killed: st.Killed, LastCause: st.LastCause,
	}
	if st.WorkloadKind != "" || st.WorkloadName != "" {
		c.Workload = &apiv1.WorkloadRef{Kind: st.WorkloadKind, Name: st.WorkloadName}
	}
	if st.Grace != nil {
		c.Grace = durationpb.New(st.Grace.Duration)
	}
	if st.ShutdownP95 != nil {
		c.ShutdownP95 = durationpb.New(st.ShutdownP95.Duration)
	}
	return c
}

// TerminationCheckName names a container's check "<pod>.<container>": a
// pod's name may hold dots, a container's name may not, so the last dot
// parts them.
func TerminationCheckName(pod, container string) string {
	return pod + "." + container
}

// WorkloadSelector is the value of the field selector FieldWorkload for a
// workload: "<kind>/<name>".
func WorkloadSelector(kind, name string) string {
	return kind + "/" + name
}

// ParseWorkloadSelector reads a FieldWorkload value back into the
// workload's kind and name.
func ParseWorkloadSelector(v string) (kind, name string, err error) {
	kind, name, ok := strings.Cut(v, "/")
	if !ok || kind == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("field selector %s=%s: want <kind>/<name> such as Deployment/web", FieldWorkload, v)
	}
	return kind, name, nil
}

func prediction(p *apiv1.Prediction) *Prediction {
	if p == nil {
		return nil
	}
	return &Prediction{Outcome: p.GetOutcome(), Cause: p.GetCause(), Advice: p.GetAdvice(), Facts: p.GetFacts(), Shell: p.GetShell(), Children: p.GetChildren()}
}

func fromPrediction(p *Prediction) *apiv1.Prediction {
	if p == nil {
		return nil
	}
	return &apiv1.Prediction{Outcome: p.Outcome, Cause: p.Cause, Advice: p.Advice, Facts: p.Facts, Shell: p.Shell, Children: p.Children}
}

// PodMeta names an object after its pod. Its creation time is when the
// termination began (its first phase), so that kubectl's AGE column says
// how long ago the pod was asked to stop.
func PodMeta(e *apiv1.Event) metav1.ObjectMeta {
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

// setLabel sets a label when value is one a label may hold: label
// selectors can only ask for such values.
func setLabel(m *metav1.ObjectMeta, key, value string) {
	if value == "" || len(validation.IsValidLabelValue(value)) > 0 {
		return
	}
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	m.Labels[key] = value
}

func podRef(m metav1.ObjectMeta) *apiv1.PodRef {
	return &apiv1.PodRef{Namespace: m.Namespace, Name: m.Name, Uid: string(m.UID)}
}

func causes(in []*apiv1.ContainerCause) []ContainerCause {
	var out []ContainerCause
	for _, c := range in {
		out = append(out, ContainerCause{Name: c.GetContainer().GetName(), Cause: c.GetCause(), Advice: c.GetAdvice(), Facts: c.GetFacts()})
	}
	return out
}

func fromCauses(in []ContainerCause) []*apiv1.ContainerCause {
	var out []*apiv1.ContainerCause
	for _, c := range in {
		out = append(out, &apiv1.ContainerCause{Container: &apiv1.ContainerRef{Name: c.Name}, Cause: c.Cause, Advice: c.Advice, Facts: c.Facts})
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

func stamp(t *metav1.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(t.Time)
}

func microTimeOf(ts *timestamppb.Timestamp) *metav1.MicroTime {
	if ts == nil {
		return nil
	}
	t := metav1.NewMicroTime(ts.AsTime())
	return &t
}

func microStamp(t *metav1.MicroTime) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(t.Time)
}
