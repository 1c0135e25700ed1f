package v1alpha1

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/go-cmp/cmp"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// roundTrip sends obj through JSON, as the API server and a client do.
func roundTrip[T any](t *testing.T, obj *T) *T {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConversion(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	at := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(start.Add(d)) }
	summary := &apiv1.Event{
		Kind: apiv1.KindTerminationSummary, Time: at(3 * time.Second), Node: "n1",
		Pod:     &apiv1.PodRef{Namespace: "shop", Name: "web", Uid: "u-1"},
		Verdict: apiv1.VerdictKilled, Killed: proto.Bool(true), GracePeriodS: proto.Int32(2), Initiator: "api_delete",
		Phases: []*apiv1.Phase{
			{Name: apiv1.PhaseStopSignal, Start: at(0), End: at(2*time.Second + 7*time.Millisecond)},
			{Name: apiv1.PhaseSIGKILL, Start: at(2*time.Second + 7*time.Millisecond), End: at(2*time.Second + 9*time.Millisecond)},
		},
		Causes:      []*apiv1.ContainerCause{{Container: &apiv1.ContainerRef{Name: "main"}, Cause: apiv1.CauseUnknown, Advice: "look", Facts: []string{"a fact"}}},
		ExitCodes:   map[string]int32{"main": 137},
		EndpointLag: durationpb.New(-3 * time.Millisecond), TrafficRisk: proto.Bool(true),
	}
	stuck := &apiv1.Event{
		Kind: apiv1.KindStuck, Time: timestamppb.New(start.Truncate(time.Second)), Node: "n1", Source: apiv1.SourceAPI,
		Pod: &apiv1.PodRef{Namespace: "shop", Name: "db", Uid: "u-2"}, Since: timestamppb.New(start.Truncate(time.Second)),
		BlockingPhase: apiv1.PhaseFinalizers, Evidence: []string{"held"}, Finalizers: []string{"x.dev/hold"},
		Causes: []*apiv1.ContainerCause{{Container: &apiv1.ContainerRef{Name: "main"}, Cause: "c", Advice: "do"}},
	}
	report := &apiv1.WorkloadReport{
		Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"},
		Terminations: 5, Finished: 4, Killed: 2, TrafficRisk: 1, Stuck: 1,
		DurationP50: durationpb.New(1234567891 * time.Nanosecond), DurationP95: durationpb.New(31 * time.Second),
		Cause: apiv1.CauseUnknown, CauseCount: 3, Advice: "look", Initiators: map[string]int64{"rollout": 4, "api_delete": 1},
	}
	// The summary's own time is kept to the second, as an object's times
	// are; phases keep their microseconds, so durations read the same.
	wantSummary := proto.Clone(summary).(*apiv1.Event)
	wantSummary.Time = timestamppb.New(wantSummary.Time.AsTime().Truncate(time.Second))

	for _, tc := range []struct {
		name      string
		got, want *apiv1.Event
	}{
		{"a summary reads back the same through the API's JSON", FromTermination(roundTrip(t, ToTermination(summary))), wantSummary},
		{"a stuck report reads back the same through the API's JSON", FromStuck(roundTrip(t, ToStuck(stuck))), stuck},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, tc.got, protocmp.Transform()); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
		})
	}

	t.Run("a workload's report reads back the same through the API's JSON, durations to the nanosecond", func(t *testing.T) {
		w := roundTrip(t, ToWorkloadReport(report, start))
		if d := cmp.Diff(report, FromWorkloadReport(w), protocmp.Transform()); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
		if w.Name != "deployment.web" || w.Namespace != "shop" {
			t.Errorf("named %s/%s, want shop/deployment.web", w.Namespace, w.Name)
		}
	})

	t.Run("a termination carries its verdict and node as labels", func(t *testing.T) {
		p := ToTermination(summary)
		if p.Labels[LabelVerdict] != apiv1.VerdictKilled || p.Labels[LabelNode] != "n1" {
			t.Errorf("labels %v, want the verdict and the node", p.Labels)
		}
	})
	t.Run("a node name too long for a label is left out of the labels", func(t *testing.T) {
		long := proto.Clone(summary).(*apiv1.Event)
		long.Node = strings.Repeat("n", 64)
		if v, ok := ToTermination(long).Labels[LabelNode]; ok {
			t.Errorf("label %s=%s, want none", LabelNode, v)
		}
	})
}
