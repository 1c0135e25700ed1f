package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// agentProc is a running graceline-agent whose JSON lines are collected.
type agentProc struct {
	*harness.Agent
	// crashed is set when a test killed the agent on purpose.
	crashed bool
	// wantKernel says the eBPF source must be live: the test did not
	// turn it off.
	wantKernel bool
}

// crash kills the agent with SIGKILL, as a node would on an OOM kill.
func (a *agentProc) crash() {
	a.crashed = true
	a.Crash()
}

// startAgent runs graceline-agent with args and stops it with SIGTERM at the
// end of the test, checking that it exits cleanly.
func startAgent(t testing.TB, args ...string) *agentProc {
	t.Helper()
	return startAgentWrapped(t, nil, args...)
}

// startAgentWrapped runs the agent under a wrapper command (setpriv, say).
// An agent for a runtime on a pure cgroup v2 hierarchy runs in that
// runtime's mount namespace, where /sys/fs/cgroup is the cgroup2 mount, as
// a node's agent sees its node; it is told the runtime's pid, which shares
// the host's other namespaces.
func startAgentWrapped(t testing.TB, wrap []string, args ...string) *agentProc {
	t.Helper()
	if c := unifiedRuntimeOf(args); c != nil {
		wrap = append(c.Enter(), wrap...)
		args = append(args, "--host-pid", fmt.Sprint(c.Pid()))
	}
	argv := append(append(wrap, agentBin, "--output", "-", "--node-name", "e2e-node"), args...)
	h, err := harness.StartAgent(argv...)
	if err != nil {
		t.Fatal(err)
	}
	a := &agentProc{Agent: h, wantKernel: !slices.Contains(args, "--ebpf=false")}
	t.Cleanup(func() {
		if a.crashed {
			return
		}
		if err := a.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("agent stderr:\n%s", a.logs())
		}
	})
	return a
}

func (a *agentProc) logs() string { return a.Logs(0) }

// forPod returns the events about the pod with the given UID, in order.
func (a *agentProc) forPod(uid string) []*apiv1.Event { return a.ForPod(uid) }

// waitFor polls until cond holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (a *agentProc) waitLog(t testing.TB, timeout time.Duration, substr string) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("agent log %q", substr), func() bool { return strings.Contains(a.logs(), substr) })
	// An agent that falls back to CRI alone still runs, and a test of
	// the kernel's events would fail later and obscurely.
	if a.wantKernel && strings.Contains(a.logs(), "eBPF source unavailable") {
		t.Fatalf("the agent runs without its eBPF source:\n%s", grepLines(a.logs(), "eBPF"))
	}
}

// startRuntime starts a private containerd of flavor f with the test images.
func startRuntime(t testing.TB, f harness.Flavor, opts ...harness.Option) (*harness.Containerd, *harness.Driver) {
	t.Helper()
	ctx := context.Background()
	c, err := harness.StartContainerdWith(ctx, f, opts, busyboxTar, pauseTar)
	if err != nil {
		t.Fatalf("start %s: %v", f, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log's errors and warnings:\n%s\n%s log tail:\n%s", f, problems(c.Log), f, tailFile(c.Log))
		}
		if err := c.Close(); err != nil {
			t.Errorf("clean up %s: %v", f, err)
		}
	})
	d, err := harness.NewDriver(ctx, c.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if c.Flavor.Unified() {
		unifiedRuntimes.Store(c.Endpoint(), c)
		t.Cleanup(func() { unifiedRuntimes.Delete(c.Endpoint()) })
	}
	return c, d
}

// unifiedRuntimes holds the running runtimes on a pure cgroup v2
// hierarchy by their CRI endpoints, so that an agent started for one of
// them (by its --cri-endpoint) runs where it sees that hierarchy.
var unifiedRuntimes sync.Map

// unifiedRuntimeOf is the runtime on a pure cgroup v2 hierarchy that the
// agent's args point at with --cri-endpoint, or nil.
func unifiedRuntimeOf(args []string) *harness.Containerd {
	i := slices.Index(args, "--cri-endpoint")
	if i < 0 || i+1 >= len(args) {
		return nil
	}
	if c, ok := unifiedRuntimes.Load(args[i+1]); ok {
		return c.(*harness.Containerd)
	}
	return nil
}
