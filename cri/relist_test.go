package cri

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// listingRuntime lists the sandboxes and containers it is given, and answers
// their status calls as countingRuntime does.
type listingRuntime struct {
	*countingRuntime
	sandboxes  []*runtimeapi.PodSandbox
	containers []*runtimeapi.Container
}

func (r *listingRuntime) ListContainers(context.Context, *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	return r.containers, nil
}

func (r *listingRuntime) ListPodSandbox(context.Context, *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	return r.sandboxes, nil
}

// changeLog is a Subscriber and Lister that notes which object changed,
// and each listing, in order.
type changeLog []string

func (l *changeLog) ContainerChanged(info ContainerInfo) { *l = append(*l, "container "+info.ID) }
func (l *changeLog) SandboxChanged(info SandboxInfo)     { *l = append(*l, "sandbox "+info.ID) }
func (l *changeLog) Listed(Listing)                      { *l = append(*l, "listed") }

// TestRelistOrder checks the order in which a relist tells the subscribers
// of what it found: the kubelet's, whatever the order of the listings, and
// the listing's end after all of it.
func TestRelistOrder(t *testing.T) {
	sandbox := func(state runtimeapi.PodSandboxState) *runtimeapi.PodSandbox {
		return &runtimeapi.PodSandbox{Id: "sb1", State: state, Labels: sandboxLabels()}
	}
	container := &runtimeapi.Container{Id: "c1", PodSandboxId: "sb1", State: runtimeapi.ContainerState_CONTAINER_RUNNING, Labels: containerLabels()}
	cases := []struct {
		name       string
		sandboxes  []*runtimeapi.PodSandbox
		containers []*runtimeapi.Container
		want       []string
	}{
		{
			name:       "a pod started since the last relist is known by its sandbox first",
			sandboxes:  []*runtimeapi.PodSandbox{sandbox(runtimeapi.PodSandboxState_SANDBOX_READY)},
			containers: []*runtimeapi.Container{container},
			want:       []string{"sandbox sb1", "container c1", "listed"},
		},
		{
			name:       "a pod found stopping has its container before its sandbox's stop",
			sandboxes:  []*runtimeapi.PodSandbox{sandbox(runtimeapi.PodSandboxState_SANDBOX_NOTREADY)},
			containers: []*runtimeapi.Container{container},
			want:       []string{"container c1", "sandbox sb1", "listed"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := &listingRuntime{countingRuntime: &countingRuntime{calls: map[string]int{}}, sandboxes: tc.sandboxes, containers: tc.containers}
			tracker := NewTracker("node", func(*apiv1.Event) {})
			var got changeLog
			tracker.Subscribe(&got)
			o := NewObserver(rs, Runtime{}, tracker, &RelistHealth{}, DefaultConfig(), NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err := o.relist(context.Background(), true); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("changes %q, want %q", got, tc.want)
			}
		})
	}
}
