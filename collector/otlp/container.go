package otlp

import (
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// ContainerTrace lays out one container's own termination inside a pod that
// lived on (a restart: a failed probe, an OOM kill, a crash) as a trace of
// its own: sum is its container_summary, events the pod's stored events in
// time order, of which those of the container since its stop become span
// events. It is never part of the pod's termination trace.
func ContainerTrace(sum *apiv1.Event, events []*apiv1.Event, res *resource.Resource) []sdktrace.ReadOnlySpan {
	c := sum.GetContainer()
	b := newTrace(ContainerTraceID(sum.GetPod().GetUid(), c.GetId()), res)
	end := sum.GetTime().AsTime()
	start := end
	if sum.GetSince() != nil {
		start = earliest(start, sum.GetSince().AsTime())
	}
	for _, p := range sum.GetPhases() {
		if p.GetStart() != nil {
			start = earliest(start, p.GetStart().AsTime())
		}
	}
	attrs := append(podAttrs(sum), containerAttrs(c)...)
	attrs = append(attrs, gl("verdict").String(sum.GetVerdict()))
	if sum.ExitCode != nil {
		attrs = append(attrs, semconv.ProcessExitCode(int(sum.GetExitCode())))
	}
	if sum.Killed != nil {
		attrs = append(attrs, gl("killed").Bool(sum.GetKilled()))
	}
	root := b.add(nil, SpanContainerTermination, "", start, end, attrs...)
	if sum.GetVerdict() == apiv1.VerdictKilled {
		root.fail(fmt.Sprintf("container %s did not stop on its stop signal: SIGKILL", c.GetName()))
	}
	b.addPhases(root, sum.GetPhases(), end)
	for _, e := range events {
		at := e.GetTime().AsTime()
		if e.GetContainer().GetId() != c.GetId() || at.Before(start) || at.After(end) || slices.Contains(untraced, e.Kind) {
			continue
		}
		root.event(e.Kind, at, eventAttrs(e)...)
	}
	for _, line := range sum.GetEvidence() {
		root.event(EventEvidence, end, gl("evidence").String(line))
	}
	for _, cc := range sum.GetCauses() {
		root.event(EventCause, end, append(containerAttrs(cc.GetContainer()), gl("cause").String(cc.GetCause()), gl("advice").String(cc.GetAdvice()))...)
	}
	return b.snapshots()
}
