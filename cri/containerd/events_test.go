package containerd

import (
	"testing"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/cri"
)

func TestObserve(t *testing.T) {
	at := time.Unix(100, 0)
	exited := timestamppb.New(at.Add(-time.Second))
	cases := []struct {
		name     string
		event    any
		wantOK   bool
		wantKind cri.ObservationKind
		wantCode int32
	}{
		{"the init process's exit is the container's", &apievents.TaskExit{ContainerID: "c", ID: "c", ExitStatus: 137, ExitedAt: exited}, true, cri.ContainerExited, 137},
		{"an exec process's exit is not", &apievents.TaskExit{ContainerID: "c", ID: "exec-1", ExitStatus: 0, ExitedAt: exited}, false, 0, 0},
		{"a task delete is left to the task exit and the relist", &apievents.TaskDelete{ContainerID: "c", ExitStatus: 1, ExitedAt: exited}, false, 0, 0},
		{"an OOM marks the container", &apievents.TaskOOM{ContainerID: "c"}, true, cri.ContainerOOM, 0},
		{"a container delete is left to CRI", &apievents.ContainerDelete{ID: "c"}, false, 0, 0},
		{"an event without a container is ignored", &apievents.TaskOOM{}, false, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs, ok := Observe(tc.event, at)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if obs.Kind != tc.wantKind || obs.ID != "c" || obs.Source != cri.SourceContainerd {
				t.Errorf("observation = %+v", obs)
			}
			if tc.wantKind == cri.ContainerExited && (obs.Exit.Code != tc.wantCode || !obs.Exit.At.Equal(exited.AsTime())) {
				t.Errorf("exit = %+v, want code %d at %s", obs.Exit, tc.wantCode, exited.AsTime())
			}
		})
	}
}
