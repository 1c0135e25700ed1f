package format

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func i32(v int32) *int32 { return &v }

func TestSource(t *testing.T) {
	cases := []struct {
		name string
		e    *apiv1.Event
		want string
	}{
		{"an event from the API watches is API", &apiv1.Event{Kind: apiv1.KindStuck, Source: apiv1.SourceAPI, Node: "n1"}, "API"},
		{"a kind only the API watches make is API without a source", &apiv1.Event{Kind: apiv1.KindPodDeleted, Node: "n1"}, "API"},
		{"an agent's stuck report is node", &apiv1.Event{Kind: apiv1.KindStuck, Node: "n1"}, "node"},
		{"an agent's event without a node is still node", &apiv1.Event{Kind: apiv1.KindContainerExited, Pod: &apiv1.PodRef{Name: "p"}}, "node"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Source(tc.e); got != tc.want {
				t.Errorf("Source = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDetail(t *testing.T) {
	cases := []struct {
		name string
		e    *apiv1.Event
		want string
	}{
		{
			name: "a delivery the agent collapsed says how many it stands for",
			e: &apiv1.Event{Kind: apiv1.KindSignalDelivered, Signal: &apiv1.Signal{Number: 9, Name: "SIGKILL"},
				Target: &apiv1.Task{Pid: 50, Tid: 51, Comm: "pause"}, Disposition: "default", Count: 6},
			want: "SIGKILL → pid 50 (pause) disposition=default ×6",
		},
		{
			name: "a single delivery has no count",
			e: &apiv1.Event{Kind: apiv1.KindSignalDelivered, Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM"},
				Target: &apiv1.Task{Pid: 7, Tid: 7, Comm: "sh"}, Disposition: "handler"},
			want: "SIGTERM → pid 7 (sh) disposition=handler",
		},
		{
			name: "a delete request gives the grace period and the finalizers, even none",
			e:    &apiv1.Event{Kind: apiv1.KindDeleteRequested, GracePeriodS: i32(30)},
			want: "grace=30s finalizers=[]",
		},
		{
			name: "a delete request without a grace period lists its finalizers",
			e:    &apiv1.Event{Kind: apiv1.KindDeleteRequested, Finalizers: []string{"a.io/x", "b.io/y"}},
			want: "finalizers=[a.io/x,b.io/y]",
		},
		{
			name: "an endpoint not ready names its Service and slice",
			e:    &apiv1.Event{Kind: apiv1.KindEndpointNotReady, Service: "shop/web", EndpointSlice: "web-abc12"},
			want: "svc shop/web (slice web-abc12)",
		},
		{
			name: "an endpoint removed names its Service",
			e:    &apiv1.Event{Kind: apiv1.KindEndpointRemoved, Service: "shop/web"},
			want: "svc shop/web",
		},
		{
			name: "a finalizer change lists what is left",
			e:    &apiv1.Event{Kind: apiv1.KindFinalizersChanged, Finalizers: []string{"example.com/hold"}},
			want: "finalizers=[example.com/hold]",
		},
		{
			name: "a failed CNI plugin names itself, the sandbox, its exit and its error",
			e: &apiv1.Event{Kind: apiv1.KindCNIPluginFailed, Process: &apiv1.Process{Pid: 7, Comm: "bridge"},
				SandboxId: "08bb89527e98aa01", ExitCode: i32(1), Reason: "DEL: failed to delete veth (code 11)"},
			want: "plugin bridge for sandbox 08bb89527e98a exit=1 DEL: failed to delete veth (code 11)",
		},
		{
			name: "a pod deleted says nothing more",
			e:    &apiv1.Event{Kind: apiv1.KindPodDeleted},
			want: "",
		},
		{
			name: "a pod deleted says why its time is approximate",
			e:    &apiv1.Event{Kind: apiv1.KindPodDeleted, Reason: "seen late"},
			want: "(seen late)",
		},
		{
			name: "a stuck report held by finalizers names them, not the evidence that restates them",
			e: &apiv1.Event{Kind: apiv1.KindStuck, Source: apiv1.SourceAPI, BlockingPhase: apiv1.PhaseFinalizers,
				Finalizers: []string{"example.com/hold"}, Evidence: []string{"held by finalizers: example.com/hold"}},
			want: "blocking=finalizers finalizers=[example.com/hold]",
		},
		{
			name: "a stuck report of the node phase gives its first evidence",
			e: &apiv1.Event{Kind: apiv1.KindStuck, Source: apiv1.SourceAPI, BlockingPhase: apiv1.PhaseNode,
				Evidence: []string{"nothing from node n1", "node n1 Ready=Unknown"}},
			want: "blocking=node nothing from node n1",
		},
		{
			name: "an agent's stuck report gives its phase and first evidence",
			e:    &apiv1.Event{Kind: apiv1.KindStuck, BlockingPhase: "sigkill", Evidence: []string{"main pid 1 in D state"}},
			want: "blocking=sigkill main pid 1 in D state",
		},
		{
			name: "a stuck report with a cause names it after the phase",
			e: &apiv1.Event{Kind: apiv1.KindStuck, BlockingPhase: apiv1.PhaseResourceRelease, Evidence: []string{"mount still present: /v"},
				Causes: []*apiv1.ContainerCause{{Cause: apiv1.StuckBusyMount}}},
			want: "blocking=resource_release cause=busy_mount mount still present: /v",
		},
		{
			name: "a joined summary carries the cluster numbers, a risky lag marked",
			e: &apiv1.Event{Kind: apiv1.KindTerminationSummary, Verdict: apiv1.VerdictGraceful,
				ApiToNode: durationpb.New(118 * time.Millisecond), EndpointLag: durationpb.New(-800 * time.Millisecond),
				NodeToApi: durationpb.New(250 * time.Millisecond)},
			want: "verdict=graceful api→node=0.118s endpoint_lag=-0.800s(risk) node→API=0.250s",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Detail(tc.e); got != tc.want {
				t.Errorf("Detail = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCluster(t *testing.T) {
	no := false
	cases := []struct {
		name   string
		s      *apiv1.Event
		signal string
		want   string
	}{
		{
			name: "a summary without the cluster side has no line",
			s:    &apiv1.Event{Kind: apiv1.KindTerminationSummary, Verdict: apiv1.VerdictKilled},
			want: "",
		},
		{
			name: "a stop signal after the endpoints dropped the pod is safe",
			s: &apiv1.Event{ApiToNode: durationpb.New(118 * time.Millisecond), EndpointLag: durationpb.New(5100 * time.Millisecond),
				TrafficRisk: &no, NodeToApi: durationpb.New(250 * time.Millisecond)},
			signal: "SIGTERM",
			want:   "api→node 0.118s  endpoint lag +5.100s: safe  node→API 0.250s",
		},
		{
			name:   "a stop signal before the endpoints dropped the pod is a traffic risk",
			s:      &apiv1.Event{EndpointLag: durationpb.New(-800 * time.Millisecond)},
			signal: "SIGTERM",
			want:   "endpoint lag -0.800s: TRAFFIC RISK (SIGTERM before the endpoints dropped the pod)",
		},
		{
			name: "an unnamed stop signal is called the stop signal",
			s:    &apiv1.Event{EndpointLag: durationpb.New(-2 * time.Second)},
			want: "endpoint lag -2.000s: TRAFFIC RISK (the stop signal before the endpoints dropped the pod)",
		},
		{
			name: "an object gone before the node finished says so",
			s:    &apiv1.Event{NodeToApi: durationpb.New(-3 * time.Second)},
			want: "node→API -3.000s (the object went before the node finished)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Cluster(tc.s, tc.signal); got != tc.want {
				t.Errorf("Cluster = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBlocking(t *testing.T) {
	cases := []struct {
		name                 string
		phase                string
		finalizers, evidence []string
		want                 string
	}{
		{"finalizers name the finalizers", apiv1.PhaseFinalizers, []string{"a.io/x", "b.io/y"}, []string{"held"}, "finalizers: a.io/x, b.io/y"},
		{"finalizers without a list fall back to the evidence", apiv1.PhaseFinalizers, nil, []string{"held"}, "finalizers: held"},
		{"another phase gives its first evidence", "stop_signal", nil, []string{"main pid 1 in D state", "more"}, "stop_signal: main pid 1 in D state"},
		{"a phase without evidence is the phase alone", "removal", nil, nil, "removal"},
		{"no phase says so", "", nil, nil, "an unknown phase"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Blocking(tc.phase, tc.finalizers, tc.evidence); got != tc.want {
				t.Errorf("Blocking = %q, want %q", got, tc.want)
			}
		})
	}
}
