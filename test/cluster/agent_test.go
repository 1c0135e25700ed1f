package cluster_test

import (
	"fmt"
	"strings"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// agentProc is a running graceline-agent --output - whose JSON lines are
// collected for the tests to read.
type agentProc struct{ *harness.Agent }

// startAgent runs the agent on the node's CRI socket and waits until it
// reports its sources live.
func startAgent(bin, node, endpoint, kubeletRoot string, extra ...string) (*agentProc, error) {
	h, err := harness.StartAgent(append([]string{bin, "--output", "-", "--node-name", node, "--cri-endpoint", endpoint, "--kubelet-root", kubeletRoot}, extra...)...)
	if err != nil {
		return nil, err
	}
	a := &agentProc{h}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(a.Logs(0), "msg=sources") {
		if time.Now().After(deadline) {
			a.Stop()
			return nil, fmt.Errorf("agent not ready after 30s; log:\n%s", a.Logs(4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return a, nil
}

func (a *agentProc) stop() error { return a.Stop() }

// forPod returns the events about the pod with the given UID, in order.
func (a *agentProc) forPod(uid string) []*apiv1.Event { return a.ForPod(uid) }

func (a *agentProc) logTail(n int) string { return a.Logs(n) }
