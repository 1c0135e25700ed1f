package cri

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// countingRuntime answers status calls for one pod and counts every call,
// so that a test can see what the observer asks of the runtime per event.
type countingRuntime struct {
	RuntimeService // nil: a call not counted here fails the test by panicking
	mu             sync.Mutex
	calls          map[string]int
}

func (r *countingRuntime) count(call string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[call]++
}

func (r *countingRuntime) ListContainers(context.Context, *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	r.count("ListContainers")
	return nil, nil
}

func (r *countingRuntime) ListPodSandbox(context.Context, *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	r.count("ListPodSandbox")
	return nil, nil
}

func (r *countingRuntime) ContainerStatus(_ context.Context, id string, _ bool) (*runtimeapi.ContainerStatusResponse, error) {
	r.count("ContainerStatus")
	return &runtimeapi.ContainerStatusResponse{
		Status: &runtimeapi.ContainerStatus{Id: id, State: runtimeapi.ContainerState_CONTAINER_RUNNING, Labels: containerLabels()},
		Info:   map[string]string{"info": `{"pid": 42}`},
	}, nil
}

func (r *countingRuntime) PodSandboxStatus(context.Context, string, bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	r.count("PodSandboxStatus")
	return &runtimeapi.PodSandboxStatusResponse{Info: map[string]string{"info": `{"pid": 41}`}}, nil
}

func sandboxLabels() map[string]string {
	return map[string]string{LabelPodNamespace: "ns", LabelPodName: "p", LabelPodUID: "u1"}
}

func containerLabels() map[string]string {
	l := sandboxLabels()
	l[LabelContainerName] = "main"
	return l
}

// streamEvent is one CRI event about the pod's sandbox sb1 or its
// container c1, with the container's status in the given state.
func streamEvent(id string, kind runtimeapi.ContainerEventType, state runtimeapi.ContainerState) *runtimeapi.ContainerEventResponse {
	ev := &runtimeapi.ContainerEventResponse{ContainerId: id, ContainerEventType: kind, CreatedAt: time.Now().UnixNano(),
		PodSandboxStatus: &runtimeapi.PodSandboxStatus{Id: "sb1", Labels: sandboxLabels()}}
	if id == "c1" {
		ev.ContainersStatuses = []*runtimeapi.ContainerStatus{{Id: "c1", State: state, Labels: containerLabels(), ExitCode: 0, FinishedAt: time.Now().UnixNano()}}
	}
	return ev
}

// TestEventsNeverRelist checks that a pod's events, from CRI's stream and
// from containerd's, never make the observer list the runtime, and that it
// asks for a status only for what no event carries: the sandbox's and the
// container's pid, once each, however often the events come.
func TestEventsNeverRelist(t *testing.T) {
	lifecycle := []*runtimeapi.ContainerEventResponse{
		streamEvent("sb1", runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT, 0),
		streamEvent("sb1", runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT, 0),
		streamEvent("c1", runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT, runtimeapi.ContainerState_CONTAINER_CREATED),
		streamEvent("c1", runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT, runtimeapi.ContainerState_CONTAINER_RUNNING),
		streamEvent("c1", runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT, runtimeapi.ContainerState_CONTAINER_EXITED),
		streamEvent("sb1", runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT, 0),
		streamEvent("c1", runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT, runtimeapi.ContainerState_CONTAINER_EXITED),
		streamEvent("sb1", runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT, 0),
	}
	cases := []struct {
		name string
		// repeat is how many times each event arrives, as after a
		// reconnect that replays them.
		repeat int
		// containerd adds containerd's /tasks/exit for
		// c1 where containerd sends them: around its stop.
		containerd bool
		want       string
	}{
		{"a pod's lifecycle asks once for each pid and never lists", 1, false, "map[ContainerStatus:1 PodSandboxStatus:1]"},
		{"repeated events ask nothing more", 3, false, "map[ContainerStatus:1 PodSandboxStatus:1]"},
		{"containerd's events beside the stream ask nothing", 1, true, "map[ContainerStatus:1 PodSandboxStatus:1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := &countingRuntime{calls: map[string]int{}}
			var events []*apiv1.Event
			tracker := NewTracker("node", func(e *apiv1.Event) { events = append(events, e) })
			o := NewObserver(rs, Runtime{}, tracker, &RelistHealth{}, DefaultConfig(), NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
			for _, ev := range lifecycle {
				for range tc.repeat {
					stop := ev.ContainerId == "c1" && ev.ContainerEventType == runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT
					if tc.containerd && stop {
						tracker.Apply(Observation{Kind: ContainerExited, ID: "c1", Time: time.Now(), Source: SourceContainerd, Exit: &Exit{Code: 0, At: time.Now()}})
					}
					o.handleEvent(context.Background(), ev)
					if tc.containerd && stop {
						tracker.Apply(Observation{Kind: ContainerExited, ID: "c1", Time: time.Now(), Source: SourceContainerd, Exit: &Exit{Code: 0, At: time.Now()}})
					}
				}
			}
			if got := fmt.Sprint(rs.calls); got != tc.want {
				t.Errorf("runtime calls %s, want %s", got, tc.want)
			}
			if last := events[len(events)-1].Kind; last != apiv1.KindSandboxRemoved {
				t.Errorf("last event %s, want %s", last, apiv1.KindSandboxRemoved)
			}
		})
	}
}
