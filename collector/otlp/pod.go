package otlp

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// Span names. They are few and fixed, as span names should be; what tells
// two spans of one name apart (the container) is in their attributes.
const (
	SpanPodTermination       = "pod_termination"
	SpanContainerTermination = "container_termination"
	SpanEndpointRemoval      = "endpoint_removal"
	SpanContainerStop        = "container_stop"
	SpanObjectRemoval        = "object_removal"
	SpanStuck                = "stuck"
)

// Span event names beside the event kinds of the contract: a line of
// evidence, and one container's cause with its advice.
const (
	EventEvidence = "evidence"
	EventCause    = "cause"
)

// untraced are the kinds that are no step of the termination itself:
// summaries (whose content the spans are), a container's start, and the
// agent's reading of processes (bulky; its facts are in the causes).
var untraced = []string{
	apiv1.KindTerminationSummary, apiv1.KindContainerSummary, apiv1.KindContainerInspected,
	apiv1.KindContainerCreated, apiv1.KindContainerStarted, apiv1.KindEventsDropped,
}

// releaseKinds go on the resource_release span.
var releaseKinds = []string{apiv1.KindCgroupRemoved, apiv1.KindNetNSReleased, apiv1.KindRootfsReleased, apiv1.KindMountsReleased}

// endpointKinds go on the endpoint_removal span.
var endpointKinds = []string{apiv1.KindEndpointNotReady, apiv1.KindEndpointRemoved}

// PodTrace lays out one pod's termination as one trace: sum is its
// termination summary (joined with the cluster side when there is one),
// events are all of the pod's stored events in time order. With stuck set,
// the termination has not ended: the trace is marked in progress and a
// stuck span ends at that report.
//
// The root span runs from the delete request (or the node's first sign of
// the deletion) to the object's removal (or the end of the node's last
// phase, or the stuck report); under it, the API side's endpoint removal,
// each phase of the summary, each container's stop (under the stop_signal
// phase) and the object's removal after the node was done.
func PodTrace(sum *apiv1.Event, events []*apiv1.Event, stuck *apiv1.Event, res *resource.Resource) []sdktrace.ReadOnlySpan {
	uid := sum.GetPod().GetUid()
	b := newTrace(PodTraceID(uid), res)
	var deleteAt, deletedAt time.Time
	for _, e := range events {
		switch {
		case e.Source != apiv1.SourceAPI:
		case e.Kind == apiv1.KindDeleteRequested && deleteAt.IsZero():
			deleteAt = e.GetTime().AsTime()
		case e.Kind == apiv1.KindPodDeleted:
			deletedAt = e.GetTime().AsTime()
		}
	}
	start, end := deleteAt, deletedAt
	for _, p := range sum.GetPhases() {
		if p.GetStart() != nil {
			start = earliest(start, p.GetStart().AsTime())
		}
		if end.IsZero() && p.GetEnd() != nil {
			// Without the object's removal, the last phase's end.
			end = latest(end, p.GetEnd().AsTime())
		}
	}
	if stuck != nil {
		if sum.GetSince() != nil {
			start = earliest(start, sum.GetSince().AsTime())
		}
		end = latest(end, stuck.GetTime().AsTime())
	}
	if start.IsZero() {
		start = sum.GetTime().AsTime()
	}
	if end.IsZero() {
		end = sum.GetTime().AsTime()
	}

	root := b.add(nil, SpanPodTermination, "", start, end, rootAttrs(sum, stuck != nil)...)
	if v := sum.GetVerdict(); v == apiv1.VerdictKilled || v == apiv1.VerdictStuck || stuck != nil {
		root.fail(verdictReason(sum, stuck))
	}

	// The API side: the delete request to the moment the last Service
	// stopped sending the pod traffic, which the summary's endpoint lag
	// tells against its stop signal.
	var endpoints *span
	if off, ok := endpointsOff(sum); ok && !deleteAt.IsZero() {
		endpoints = b.add(root, SpanEndpointRemoval, "", deleteAt, off, gl("traffic_risk").Bool(sum.GetTrafficRisk()),
			gl("endpoint_lag_s").Float64(sum.GetEndpointLag().AsDuration().Seconds()))
		if sum.GetTrafficRisk() {
			endpoints.fail("the pod got its stop signal while a Service still sent it traffic")
		}
	}

	phases := b.addPhases(root, sum.GetPhases(), end)

	// Each container's own stop: from the runtime's first stop signal to
	// its init to the container's exit, under the stop_signal phase.
	containers := map[string]*span{}
	stopParent := root
	if s, ok := phases[apiv1.PhaseStopSignal]; ok {
		stopParent = s
	}
	t := summary.Fold(events)
	cs := t.Containers()
	slices.SortFunc(cs, func(a, b summary.Container) int { return strings.Compare(a.Name+a.ID, b.Name+b.ID) })
	for _, c := range cs {
		at, sig, _, ok := c.StopSignal()
		if !ok {
			continue
		}
		cend := c.ExitedAt
		if cend.IsZero() {
			cend = end // not exited yet: it is still stopping
		}
		attrs := containerAttrs(&apiv1.ContainerRef{Id: c.ID, Name: c.Name})
		attrs = append(attrs, gl("stop_signal").String(apiv1.SignalName(sig.GetNumber())))
		if c.Pid > 0 {
			attrs = append(attrs, semconv.ProcessPID(int(c.Pid)))
		}
		if c.ExitCode != nil {
			attrs = append(attrs, semconv.ProcessExitCode(int(*c.ExitCode)))
		}
		s := b.add(stopParent, SpanContainerStop, c.ID, at, cend, attrs...)
		if !c.KilledAt.IsZero() {
			s.fail(fmt.Sprintf("container %s did not stop within its grace period: SIGKILL", c.Name))
		}
		containers[c.ID] = s
	}

	// The object's removal once the node was done: finalizers, or the
	// kubelet's confirmation.
	if done, ok := summary.Done(sum); ok && !deletedAt.IsZero() {
		b.add(root, SpanObjectRemoval, "", done, deletedAt)
	}

	var stuckSpan *span
	if stuck != nil {
		since := stuck.GetTime().AsTime()
		if stuck.GetSince() != nil {
			since = stuck.GetSince().AsTime()
		}
		stuckSpan = b.add(root, SpanStuck, "", since, stuck.GetTime().AsTime(), gl("blocking_phase").String(stuck.GetBlockingPhase()), gl("in_progress").Bool(true))
		stuckSpan.fail("stuck at " + stuck.GetBlockingPhase())
		for _, line := range stuck.GetEvidence() {
			stuckSpan.event(EventEvidence, stuck.GetTime().AsTime(), gl("evidence").String(line))
		}
	}

	for _, e := range events {
		at := e.GetTime().AsTime()
		if at.Before(start) || slices.Contains(untraced, e.Kind) {
			continue
		}
		if id := e.GetContainer().GetId(); id != "" {
			if _, inPod := t.Known(id); !inPod {
				continue // a restarted container's events are its own trace's
			}
		}
		target := root
		switch {
		case containers[e.GetContainer().GetId()] != nil:
			target = containers[e.GetContainer().GetId()]
		case slices.Contains(releaseKinds, e.Kind) && phases[apiv1.PhaseResourceRelease] != nil:
			target = phases[apiv1.PhaseResourceRelease]
		case slices.Contains(endpointKinds, e.Kind) && endpoints != nil:
			target = endpoints
		case e.Kind == apiv1.KindStuck && stuckSpan != nil:
			continue // its evidence is on the stuck span already
		}
		target.event(e.Kind, at, eventAttrs(e)...)
	}
	for _, line := range sum.GetEvidence() {
		root.event(EventEvidence, sum.GetTime().AsTime(), gl("evidence").String(line))
	}
	for _, c := range sum.GetCauses() {
		s := root
		if cs := containerSpan(containers, c.GetContainer()); cs != nil {
			s = cs
		}
		s.event(EventCause, sum.GetTime().AsTime(), append(containerAttrs(c.GetContainer()),
			gl("cause").String(c.GetCause()), gl("advice").String(c.GetAdvice()))...)
	}
	return b.snapshots()
}

func containerSpan(m map[string]*span, c *apiv1.ContainerRef) *span {
	if c == nil {
		return nil
	}
	return m[c.GetId()]
}

// rootAttrs are the root span's: who, and graceline's reading of it.
func rootAttrs(sum *apiv1.Event, inProgress bool) []attribute.KeyValue {
	out := podAttrs(sum)
	out = append(out, gl("verdict").String(sum.GetVerdict()), gl("cause").String(summary.PodCauseName(sum)), gl("in_progress").Bool(inProgress))
	if sum.Killed != nil {
		out = append(out, gl("killed").Bool(sum.GetKilled()))
	}
	if sum.GracePeriodS != nil {
		out = append(out, gl("grace_period_s").Int(int(sum.GetGracePeriodS())))
	}
	if i := sum.GetInitiator(); i != "" {
		out = append(out, gl("initiator").String(i))
	}
	if w := sum.GetWorkload(); w != nil {
		out = append(out, gl("workload").String(w.GetKind()+"/"+w.GetName()))
	}
	for _, d := range []struct {
		name string
		ok   bool
		v    time.Duration
	}{
		{"api_to_node_s", sum.ApiToNode != nil, sum.GetApiToNode().AsDuration()},
		{"endpoint_lag_s", sum.EndpointLag != nil, sum.GetEndpointLag().AsDuration()},
		{"node_to_api_s", sum.NodeToApi != nil, sum.GetNodeToApi().AsDuration()},
	} {
		if d.ok {
			out = append(out, gl(d.name).Float64(d.v.Seconds()))
		}
	}
	if sum.OomKilled != nil {
		out = append(out, gl("oom_killed").Bool(sum.GetOomKilled()))
	}
	if len(sum.GetExitCodes()) > 0 {
		names := make([]string, 0, len(sum.GetExitCodes()))
		for n := range sum.GetExitCodes() {
			names = append(names, n)
		}
		slices.Sort(names)
		codes := make([]string, len(names))
		for i, n := range names {
			codes[i] = fmt.Sprintf("%s=%d", n, sum.GetExitCodes()[n])
		}
		out = append(out, gl("exit_codes").StringSlice(codes))
	}
	return out
}

// verdictReason is the root's error description: the verdict, and the
// advice of the cause that speaks for the pod.
func verdictReason(sum *apiv1.Event, stuck *apiv1.Event) string {
	if stuck != nil {
		return "stuck at " + stuck.GetBlockingPhase()
	}
	reason := sum.GetVerdict()
	if c := summary.PodCause(sum); c != nil && c.GetCause() != "" {
		reason += ": " + c.GetCause()
		if c.GetAdvice() != "" {
			reason += ": " + c.GetAdvice()
		}
	}
	return reason
}

// endpointsOff is when the last Service stopped sending the pod traffic,
// as the summary tells it: its endpoint lag is the stop signal's start
// minus that moment.
func endpointsOff(sum *apiv1.Event) (time.Time, bool) {
	if sum.EndpointLag == nil {
		return time.Time{}, false
	}
	for _, p := range sum.GetPhases() {
		if p.GetName() == apiv1.PhaseStopSignal && p.GetStart() != nil {
			return p.GetStart().AsTime().Add(-sum.GetEndpointLag().AsDuration()), true
		}
	}
	return time.Time{}, false
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
