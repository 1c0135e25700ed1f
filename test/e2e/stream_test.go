package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// getContainerEvents is the CRI method whose stream containerd 1.7 serves
// from one queue for every subscriber.
const getContainerEvents = "/runtime.v1.RuntimeService/GetContainerEvents"

// TestContainerd17LeavesTheEventStreamToTheKubelet runs the agent against a
// real containerd 1.7 through a proxy that records its calls, while a
// subscriber of GetContainerEvents stands in for the kubelet. On 1.7 each
// event of that stream goes to one subscriber only, so an agent that
// subscribed would take events the kubelet needs (its PLEG would miss
// container exits). The agent must follow the pods by relisting instead,
// and the kubelet's subscriber must get every event of every container.
func TestContainerd17LeavesTheEventStreamToTheKubelet(t *testing.T) {
	c, d := startRuntime(t, harness.Containerd17)
	proxy, err := harness.StartCRIProxy(t.TempDir(), c.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	kubelet := subscribeContainerEvents(t, c.Endpoint())
	agent := startAgent(t, "--cri-endpoint", "unix://"+proxy.Address)
	agent.waitLog(t, 30*time.Second, "msg=sources")

	ids := map[string]string{} // container ids by pod UID
	for i := range 3 {
		spec := harness.PodSpec{
			Namespace: "e2e", Name: fmt.Sprintf("stream-%d", i), UID: fmt.Sprintf("uid-stream-%d-%d", i, time.Now().UnixNano()),
			GracePeriod: 2,
			Containers:  []harness.ContainerSpec{{Name: "main", Command: []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"}}},
		}
		pod, _ := runAndDelete(t, d, agent, spec)
		ids[spec.UID] = pod.Containers["main"]
	}

	calls := proxy.Calls()
	t.Logf("the agent's calls through the proxy: %v", calls)
	if n := calls[getContainerEvents]; n > 0 {
		t.Errorf("the agent called GetContainerEvents %d times on containerd 1.7, whose one queue is the kubelet's", n)
	}
	if calls["/runtime.v1.RuntimeService/ListContainers"] == 0 {
		t.Errorf("the agent never listed containers through the proxy: the proxy did not carry its calls")
	}
	want := []runtimeapi.ContainerEventType{runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT}
	for uid, id := range ids {
		waitFor(t, 30*time.Second, "the agent's termination_summary of "+uid, func() bool {
			return find(agent.forPod(uid), apiv1.KindTerminationSummary) != nil
		})
		waitFor(t, 30*time.Second, "the kubelet's subscriber to get every event of container "+id, func() bool {
			got := kubelet.of(id)
			for _, w := range want {
				if !got[w] {
					return false
				}
			}
			return true
		})
	}
}

// containerEvents is what a GetContainerEvents subscriber got, by
// container.
type containerEvents struct {
	mu   sync.Mutex
	seen map[string]map[runtimeapi.ContainerEventType]bool
}

func (c *containerEvents) of(id string) map[runtimeapi.ContainerEventType]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[runtimeapi.ContainerEventType]bool{}
	for k, v := range c.seen[id] {
		out[k] = v
	}
	return out
}

// subscribeContainerEvents subscribes to the runtime's GetContainerEvents
// as the kubelet does, until the test ends.
func subscribeContainerEvents(t *testing.T, endpoint string) *containerEvents {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := runtimeapi.NewRuntimeServiceClient(conn).GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		cancel()
		conn.Close()
		t.Fatalf("subscribe to GetContainerEvents: %v", err)
	}
	got := &containerEvents{seen: map[string]map[runtimeapi.ContainerEventType]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			e, err := stream.Recv()
			if err != nil {
				if ctx.Err() == nil && !strings.Contains(err.Error(), "context canceled") {
					t.Logf("GetContainerEvents ended: %v", err)
				}
				return
			}
			got.mu.Lock()
			if got.seen[e.ContainerId] == nil {
				got.seen[e.ContainerId] = map[runtimeapi.ContainerEventType]bool{}
			}
			got.seen[e.ContainerId][e.ContainerEventType] = true
			got.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		conn.Close()
	})
	return got
}
