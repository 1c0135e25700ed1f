package query

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestJoinCluster(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	at := func(ms int) *timestamppb.Timestamp {
		return timestamppb.New(t0.Add(time.Duration(ms) * time.Millisecond))
	}
	pod := &apiv1.PodRef{Namespace: "shop", Name: "web", Uid: "u1"}
	api := func(kind string, ms int, edit ...func(*apiv1.Event)) *apiv1.Event {
		e := &apiv1.Event{Kind: kind, Source: apiv1.SourceAPI, Time: at(ms), Node: "n1", Pod: pod}
		for _, f := range edit {
			f(e)
		}
		return e
	}
	svc := func(name string) func(*apiv1.Event) { return func(e *apiv1.Event) { e.Service = name } }
	// The node's summary: SIGTERM at +100 ms, the node done at +3 s,
	// removal (GC) until +60 s.
	node := &apiv1.Event{
		Kind: apiv1.KindTerminationSummary, Time: at(60000), Node: "n1", Pod: pod, Verdict: apiv1.VerdictGraceful,
		Phases: []*apiv1.Phase{
			{Name: "stop_signal", Start: at(100), End: at(1000)},
			{Name: "sandbox_teardown", Start: at(1000), End: at(2000)},
			{Name: "resource_release", Start: at(2000), End: at(3000)},
			{Name: "removal", Start: at(2500), End: at(60000)},
		},
	}
	held := func(e *apiv1.Event) {
		e.BlockingPhase, e.Finalizers, e.Evidence = apiv1.PhaseFinalizers, []string{"example.com/hold"}, []string{"held by example.com/hold"}
	}
	cases := []struct {
		name                        string
		events                      []*apiv1.Event
		apiToNode, lag, nodeToAPI   time.Duration // -1: must be unset
		risk                        bool
		verdict, blocking, evidence string
	}{
		{
			name: "endpoints dropped before SIGTERM: safe",
			events: []*apiv1.Event{
				api(apiv1.KindDeleteRequested, 0), api(apiv1.KindEndpointNotReady, 40, svc("shop/web")),
				node, api(apiv1.KindPodDeleted, 3500),
			},
			apiToNode: 100 * time.Millisecond, lag: 60 * time.Millisecond, nodeToAPI: 500 * time.Millisecond,
			verdict: apiv1.VerdictGraceful,
		},
		{
			name: "SIGTERM while a Service still sent traffic: risk",
			events: []*apiv1.Event{
				api(apiv1.KindDeleteRequested, 0), node, api(apiv1.KindEndpointRemoved, 900, svc("shop/web")),
			},
			apiToNode: 100 * time.Millisecond, lag: -800 * time.Millisecond, nodeToAPI: -1, risk: true,
			verdict: apiv1.VerdictGraceful,
		},
		{
			name: "the last Service to drop the pod decides the lag",
			events: []*apiv1.Event{
				api(apiv1.KindDeleteRequested, 0), api(apiv1.KindEndpointNotReady, 10, svc("shop/a")),
				api(apiv1.KindEndpointRemoved, 20, svc("shop/a")), api(apiv1.KindEndpointNotReady, 300, svc("shop/b")), node,
			},
			apiToNode: 100 * time.Millisecond, lag: -200 * time.Millisecond, nodeToAPI: -1, risk: true,
			verdict: apiv1.VerdictGraceful,
		},
		{
			name: "held by a finalizer: stuck at finalizers",
			events: []*apiv1.Event{
				api(apiv1.KindDeleteRequested, 0), node, api(apiv1.KindStuck, 40000, held),
			},
			apiToNode: 100 * time.Millisecond, lag: -1, nodeToAPI: -1,
			verdict: apiv1.VerdictStuck, blocking: apiv1.PhaseFinalizers, evidence: "held by example.com/hold",
		},
		{
			name: "released after a stuck report: the node's verdict, and the hold noted",
			events: []*apiv1.Event{
				api(apiv1.KindDeleteRequested, 0), node, api(apiv1.KindStuck, 40000, held), api(apiv1.KindPodDeleted, 70000),
			},
			apiToNode: 100 * time.Millisecond, lag: -1, nodeToAPI: 67 * time.Second,
			verdict: apiv1.VerdictGraceful, evidence: "finalizers held the object",
		},
		{
			name: "no node summary: read from the node's events",
			events: []*apiv1.Event{
				api(apiv1.KindDeleteRequested, 0), api(apiv1.KindEndpointNotReady, 30, svc("shop/web")),
				{Kind: apiv1.KindSignalGenerated, Time: at(200), Pod: pod, Signal: &apiv1.Signal{Number: 15}},
				{Kind: apiv1.KindContainerStopped, Time: at(800), Pod: pod},
				{Kind: apiv1.KindSandboxStopped, Time: at(1200), Pod: pod},
				api(apiv1.KindPodDeleted, 1500),
			},
			apiToNode: 200 * time.Millisecond, lag: 170 * time.Millisecond, nodeToAPI: 300 * time.Millisecond,
			verdict: apiv1.VerdictGraceful,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Summarize(tc.events)
			checkDuration(t, "api_to_node", s.ApiToNode.AsDuration(), s.ApiToNode != nil, tc.apiToNode)
			checkDuration(t, "endpoint_lag", s.EndpointLag.AsDuration(), s.EndpointLag != nil, tc.lag)
			checkDuration(t, "node_to_api", s.NodeToApi.AsDuration(), s.NodeToApi != nil, tc.nodeToAPI)
			if tc.lag != -1 && s.GetTrafficRisk() != tc.risk {
				t.Errorf("traffic_risk %v, want %v", s.GetTrafficRisk(), tc.risk)
			}
			if s.Verdict != tc.verdict || s.BlockingPhase != tc.blocking {
				t.Errorf("verdict %q at %q, want %q at %q", s.Verdict, s.BlockingPhase, tc.verdict, tc.blocking)
			}
			if !strings.Contains(strings.Join(s.Evidence, "\n"), tc.evidence) {
				t.Errorf("evidence %q lacks %q", s.Evidence, tc.evidence)
			}
			if s.GetPod().GetUid() != "u1" {
				t.Errorf("summary of pod %v", s.GetPod())
			}
		})
	}
}

func checkDuration(t *testing.T, name string, got time.Duration, set bool, want time.Duration) {
	t.Helper()
	switch {
	case want == -1 && set:
		t.Errorf("%s = %s, want unset", name, got)
	case want != -1 && !set:
		t.Errorf("%s unset, want %s", name, want)
	case want != -1 && got != want:
		t.Errorf("%s = %s, want %s", name, got, want)
	}
}

// A pod the API watches never saw keeps its node's summary as it is.
func TestJoinWithoutClusterSide(t *testing.T) {
	node := &apiv1.Event{Kind: apiv1.KindTerminationSummary, Time: timestamppb.Now(), Verdict: apiv1.VerdictKilled}
	if got := Summarize([]*apiv1.Event{node}); got != node {
		t.Errorf("summary changed without cluster events: %v", got)
	}
}

func TestJoinCarriesTheDeleteRequestsInitiatorAndWorkload(t *testing.T) {
	pod := &apiv1.PodRef{Namespace: "shop", Name: "web-1", Uid: "u1"}
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	del := &apiv1.Event{Kind: apiv1.KindDeleteRequested, Source: apiv1.SourceAPI, Time: timestamppb.New(t0), Pod: pod,
		Initiator: apiv1.InitiatorRollout, Workload: &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"}}
	node := &apiv1.Event{Kind: apiv1.KindTerminationSummary, Time: timestamppb.New(t0.Add(time.Second)), Pod: pod, Verdict: apiv1.VerdictGraceful}
	s := joinCluster(node, true, []*apiv1.Event{del, node})
	if s.Initiator != apiv1.InitiatorRollout || s.GetWorkload().GetKind() != "Deployment" || s.GetWorkload().GetName() != "web" {
		t.Errorf("joined summary has initiator %q, workload %v; want the delete request's rollout of Deployment web", s.Initiator, s.Workload)
	}
	if node.Initiator != "" {
		t.Error("the join changed the node's own summary")
	}
}
