package query

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestRepairTimes(t *testing.T) {
	year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	cases := []struct {
		name  string
		event *apiv1.Event
		// check reports what is still wrong after the repair.
		check func(e *apiv1.Event) bool
	}{
		{"a time after year 9999 becomes the last instant of 9999",
			&apiv1.Event{Time: &timestamppb.Timestamp{Seconds: year10000}},
			func(e *apiv1.Event) bool { return e.Time.AsTime().Equal(maxTime) }},
		{"a time before year 1 becomes the first instant of year 1",
			&apiv1.Event{Time: &timestamppb.Timestamp{Seconds: minTime.Unix() - 1}},
			func(e *apiv1.Event) bool { return e.Time.AsTime().Equal(minTime) }},
		{"nanoseconds out of range are clamped",
			&apiv1.Event{Time: &timestamppb.Timestamp{Seconds: 1, Nanos: -5}},
			func(e *apiv1.Event) bool { return e.Time.Seconds == 1 && e.Time.Nanos == 0 }},
		{"a phase's time inside a list is found",
			&apiv1.Event{Phases: []*apiv1.Phase{{Name: "stop", End: &timestamppb.Timestamp{Seconds: year10000}}}},
			func(e *apiv1.Event) bool { return e.Phases[0].End.AsTime().Equal(maxTime) }},
		{"a duration beyond 10,000 years is clamped",
			&apiv1.Event{EndpointLag: &durationpb.Duration{Seconds: -maxDurationSeconds - 1}},
			func(e *apiv1.Event) bool { return e.EndpointLag.CheckValid() == nil }},
		{"a duration whose nanoseconds disagree in sign is repaired",
			&apiv1.Event{ApiToNode: &durationpb.Duration{Seconds: 1, Nanos: -1}},
			func(e *apiv1.Event) bool { return e.ApiToNode.Seconds == 1 && e.ApiToNode.Nanos == 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !unservable(tc.event.ProtoReflect()) {
				t.Fatal("the event was found servable as it is")
			}
			if !repairTimes(tc.event.ProtoReflect()) {
				t.Fatal("nothing was repaired")
			}
			if _, err := apiv1.MarshalJSONLine(tc.event); err != nil || !tc.check(tc.event) {
				t.Errorf("after repair: %v, err %v", tc.event, err)
			}
			if unservable(tc.event.ProtoReflect()) {
				t.Error("the repaired event is still unservable")
			}
		})
	}
	t.Run("a valid event is left alone", func(t *testing.T) {
		e := &apiv1.Event{Time: timestamppb.Now(), ApiToNode: durationpb.New(-time.Second)}
		if unservable(e.ProtoReflect()) || repairTimes(e.ProtoReflect()) {
			t.Error("a valid event was taken for unservable")
		}
	})
}
