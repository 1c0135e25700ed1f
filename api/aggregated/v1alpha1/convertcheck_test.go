package v1alpha1

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestTerminationCheckConversion(t *testing.T) {
	read := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	pod := &apiv1.PodRef{Namespace: "shop", Name: "web-7d9f.x", Uid: "u-1"}
	full := &apiv1.ContainerCheck{
		Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"}, Pod: pod, Container: "main",
		Readiness: &apiv1.Event{
			Kind: apiv1.KindTerminationReadiness, Time: timestamppb.New(read), Node: "n1", Pod: pod,
			Container: &apiv1.ContainerRef{Id: "c-1", Name: "main"}, Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM"}, Disposition: "ignored",
			Processes: []*apiv1.Process{
				{Pid: 4242, Comm: "sh", Argv: []string{"sh", "-c", "trap '' TERM; sleep 3600"}, State: "S", Started: timestamppb.New(read.Add(-time.Minute)),
					SigIgnored: []string{"SIGTERM"}, SigCaught: []string{"SIGCHLD"}, SigBlocked: []string{"SIGUSR1"}, SigPending: []string{"SIGUSR2"}},
				{Pid: 4250, Comm: "sleep", Ppid: 4242, State: "S", Started: timestamppb.New(read.Add(-59 * time.Second))},
			},
			Prediction: &apiv1.Prediction{Outcome: "killed", Cause: apiv1.CauseSignalIgnored, Advice: "node advice", Facts: []string{"f1"}, Shell: true, Children: 1},
		},
		Prediction:   &apiv1.Prediction{Outcome: "killed", Cause: apiv1.CauseSignalIgnored, Advice: "advice", Facts: []string{"f1", "f2"}, Shell: true, Children: 1},
		Grace:        durationpb.New(30 * time.Second),
		Terminations: 4, Killed: 3, ShutdownP95: durationpb.New(31234567891 * time.Nanosecond), LastCause: apiv1.CauseSignalIgnored,
	}
	bare := &apiv1.ContainerCheck{
		Namespace: "shop", Pod: &apiv1.PodRef{Namespace: "shop", Name: "solo"}, Container: "c",
		Readiness: &apiv1.Event{Kind: apiv1.KindTerminationReadiness, Pod: &apiv1.PodRef{Namespace: "shop", Name: "solo"}, Container: &apiv1.ContainerRef{Name: "c"}},
	}
	for _, tc := range []struct {
		name string
		in   *apiv1.ContainerCheck
	}{
		{"a full check reads back the same through the API's JSON", full},
		{"a check without workload, history or processes reads back the same", bare},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FromTerminationCheck(roundTrip(t, ToTerminationCheck(tc.in)))
			if !proto.Equal(tc.in, got) {
				t.Errorf("round trip (-want +got):\n%s", cmp.Diff(tc.in, got, protocmp.Transform()))
			}
		})
	}

	t.Run("a check is named after its pod and container and dated by the node's reading", func(t *testing.T) {
		c := ToTerminationCheck(full)
		if c.Name != "web-7d9f.x.main" || c.Namespace != "shop" || !c.CreationTimestamp.Time.Equal(read.Truncate(time.Second)) {
			t.Errorf("named %s/%s created %s, want shop/web-7d9f.x.main created %s", c.Namespace, c.Name, c.CreationTimestamp, read.Truncate(time.Second))
		}
	})

	t.Run("a deep copy shares nothing with its source", func(t *testing.T) {
		c := ToTerminationCheck(full)
		cp := c.DeepCopyObject().(*TerminationCheck)
		cp.Status.Readiness.Processes[0].SigIgnored[0] = "changed"
		cp.Status.Prediction.Facts[0] = "changed"
		cp.Status.Readiness.Time.Time = time.Time{}
		if c.Status.Readiness.Processes[0].SigIgnored[0] != "SIGTERM" || c.Status.Prediction.Facts[0] != "f1" || c.Status.Readiness.Time.IsZero() {
			t.Error("changing the copy changed the source")
		}
	})
}

func TestParseWorkloadSelector(t *testing.T) {
	for _, tc := range []struct {
		name, value, kind, workload string
		ok                          bool
	}{
		{"a kind and a name are read", "Deployment/web", "Deployment", "web", true},
		{"the selector a client builds reads back", WorkloadSelector("StatefulSet", "db"), "StatefulSet", "db", true},
		{"a name alone is refused", "web", "", "", false},
		{"an empty kind is refused", "/web", "", "", false},
		{"an empty name is refused", "Deployment/", "", "", false},
		{"a name with a slash is refused", "Deployment/a/b", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, name, err := ParseWorkloadSelector(tc.value)
			if (err == nil) != tc.ok || kind != tc.kind || name != tc.workload {
				t.Errorf("parse %q: %q %q %v, want %q %q ok=%v", tc.value, kind, name, err, tc.kind, tc.workload, tc.ok)
			}
		})
	}
}
