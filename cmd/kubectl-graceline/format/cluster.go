package format

import (
	"strings"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Finalizers lists finalizers the way the timeline shows them:
// [example.com/hold,kubernetes.io/pvc-protection], or [] when none is left.
func Finalizers(fins []string) string { return "[" + strings.Join(fins, ",") + "]" }

// Blocking names what holds a stuck pod: its blocking phase, then the
// finalizers when they are what holds it (the API side's evidence only
// restates them), else the first piece of evidence. For example
// "finalizers: example.com/hold" or "stop_signal: main pid 1 in D state".
func Blocking(phase string, finalizers, evidence []string) string {
	if phase == "" {
		phase = "an unknown phase"
	}
	switch {
	case phase == apiv1.PhaseFinalizers && len(finalizers) > 0:
		return phase + ": " + strings.Join(finalizers, ", ")
	case len(evidence) > 0:
		return phase + ": " + evidence[0]
	}
	return phase
}

// stuck is the row of a stuck report: the phase first, its causes, then
// the finalizers when they hold the object, then the first evidence unless
// the finalizers already say it.
func stuck(e *apiv1.Event) string {
	d := kv("blocking", e.BlockingPhase)
	for _, c := range e.GetCauses() {
		d = join(d, kv("cause", c.GetCause()))
	}
	if len(e.Finalizers) > 0 {
		d = join(d, "finalizers="+Finalizers(e.Finalizers))
	}
	if len(e.Evidence) > 0 && !(e.BlockingPhase == apiv1.PhaseFinalizers && len(e.Finalizers) > 0) {
		d = join(d, e.Evidence[0])
	}
	return d
}

// EndpointLag says whether a summary's stop signal came after the pod's
// endpoints stopped taking traffic: "endpoint lag +5.100s: safe", or a
// negative lag marked as a traffic risk. signal names the stop signal in
// that warning ("SIGTERM"); "" when the node's events do not tell. It is
// "" for a summary without an endpoint lag.
func EndpointLag(s *apiv1.Event, signal string) string {
	if s.GetEndpointLag() == nil {
		return ""
	}
	if signal == "" {
		signal = "the stop signal"
	}
	d := "endpoint lag " + Relative(s.GetEndpointLag().AsDuration())
	if TrafficRisk(s) {
		return d + ": TRAFFIC RISK (" + signal + " before the endpoints dropped the pod)"
	}
	return d + ": safe"
}

// TrafficRisk tells whether the pod was signalled while an endpoint still
// offered it: the collector's own flag, else the lag's sign.
func TrafficRisk(s *apiv1.Event) bool {
	if s.TrafficRisk != nil {
		return *s.TrafficRisk
	}
	return s.GetEndpointLag() != nil && s.GetEndpointLag().AsDuration() < 0
}

// Cluster is the line of a summary's cluster-side numbers: how long the
// node took to act on the delete request, the endpoint lag, and how long
// the object outlived the node's work. It is "" when the summary has none.
func Cluster(s *apiv1.Event, signal string) string {
	var parts []string
	if s.GetApiToNode() != nil {
		parts = append(parts, "api→node "+Duration(s.GetApiToNode().AsDuration()))
	}
	if lag := EndpointLag(s, signal); lag != "" {
		parts = append(parts, lag)
	}
	if s.GetNodeToApi() != nil {
		d := s.GetNodeToApi().AsDuration()
		p := "node→API " + Duration(d)
		if d < 0 {
			// A force delete, or a grace period of zero.
			p += " (the object went before the node finished)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "  ")
}

// clusterKV is the compact key=value form of the same numbers, for a
// summary's row.
func clusterKV(s *apiv1.Event) string {
	var parts []string
	if s.GetApiToNode() != nil {
		parts = append(parts, "api→node="+Duration(s.GetApiToNode().AsDuration()))
	}
	if s.GetEndpointLag() != nil {
		p := "endpoint_lag=" + Relative(s.GetEndpointLag().AsDuration())
		if TrafficRisk(s) {
			p += "(risk)"
		}
		parts = append(parts, p)
	}
	if s.GetNodeToApi() != nil {
		parts = append(parts, "node→API="+Duration(s.GetNodeToApi().AsDuration()))
	}
	return strings.Join(parts, " ")
}
