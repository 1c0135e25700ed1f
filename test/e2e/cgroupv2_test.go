package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// TestOnUnifiedCgroups runs containerd 2.x, runc and the agent on a pure
// cgroup v2 hierarchy (harness.Containerd2Unified): each container is one
// directory with a private cgroup namespace, its removal comes from the
// kernel's cgroup_rmdir, a frozen container is found through cgroup.freeze,
// and the resources are released; for the agent as it runs, and for one in
// a cgroup namespace of its own, as a DaemonSet's pod has.
func TestOnUnifiedCgroups(t *testing.T) {
	c, d := startRuntime(t, harness.Containerd2Unified)
	// The DaemonSet's agent has a cgroup namespace of its own; it reads
	// the host's hierarchy through its /sys/fs/cgroup mount, which a
	// private namespace does not change. One agent runs in each.
	type watcher struct {
		name    string
		agent   *agentProc
		metrics string
	}
	var watchers []watcher
	for _, w := range []struct {
		name string
		wrap []string
	}{{"the agent", nil}, {"an agent in a cgroup namespace of its own", []string{"unshare", "--cgroup", "--"}}} {
		metrics := freeAddr(t)
		agent := startAgentWrapped(t, w.wrap, "--cri-endpoint", c.Endpoint(), "--metrics-address", metrics, "--stuck-slack", "30s")
		agent.waitLog(t, 30*time.Second, "msg=sources")
		watchers = append(watchers, watcher{w.name, agent, metrics})
	}
	own, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/cgroup", watchers[1].agent.Pid()))
	if runtime, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/cgroup", c.Pid())); own == runtime {
		t.Fatalf("the second agent shares the runtime's cgroup namespace %s", own)
	}
	agent := watchers[0].agent
	ctx := context.Background()

	t.Run("a graceful pod's cgroups are one directory each, in a private cgroup namespace, and their removal comes from the kernel", func(t *testing.T) {
		spec := newSpec("v2-graceful", 5, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm)})
		pod, err := d.RunPod(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		waitStarted(t, agent, spec)
		id := pod.Containers["main"]
		dir := c.CgroupDir("", id)
		if _, err := os.Stat(filepath.Join(dir, "cgroup.freeze")); err != nil {
			t.Fatalf("the container's cgroup is not a v2 directory: %v", err)
		}
		pid := find(agent.forPod(spec.UID), apiv1.KindContainerStarted).GetProcess().GetPid()
		own, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/cgroup", pid))
		runtime, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/cgroup", c.Pid()))
		if own == "" || own == runtime {
			t.Errorf("the container's cgroup namespace is %q, the runtime's %q: want a private one", own, runtime)
		}
		if err := d.DeletePod(ctx, pod); err != nil {
			t.Fatal(err)
		}
		for _, w := range watchers {
			s := summaryOf(t, w.agent, spec.UID)
			if s.Verdict != "graceful" {
				t.Errorf("%s: verdict %q, want graceful", w.name, s.Verdict)
			}
			events := w.agent.forPod(spec.UID)
			var paths []string
			for _, e := range events {
				if e.Kind == apiv1.KindCgroupRemoved {
					paths = append(paths, e.GetPath())
				}
			}
			if len(paths) != 2 || !strings.Contains(strings.Join(paths, " "), "/k8s.io/"+id) {
				t.Errorf("%s: cgroup_removed for %v, want the container's /k8s.io/%s and the sandbox's", w.name, paths, id)
			}
			for _, k := range []string{apiv1.KindRootfsReleased, apiv1.KindContainerRemoved, apiv1.KindSandboxRemoved} {
				if !hasKind(events, k) {
					t.Errorf("%s: no %s: %v", w.name, k, kinds(events))
				}
			}
			body := httpBody(t, "http://"+w.metrics+"/metrics")
			if n := counterValue(body, `graceline_cgroup_removals_total{found_by="kernel_event"}`); n < 1 {
				t.Errorf("%s: %v cgroup removals found by a kernel event, want the kernel's among them", w.name, n)
			}
		}
	})

	t.Run("a frozen container is found through cgroup.freeze", func(t *testing.T) {
		spec := newSpec("v2-frozen", 3, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm)})
		pod, err := d.RunPod(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		waitStarted(t, agent, spec)
		thaw, err := c.Freeze(pod.Containers["main"])
		if err != nil {
			t.Fatal(err)
		}
		defer thaw()
		if err := d.DeletePod(ctx, pod); err != nil {
			t.Fatal(err)
		}
		for _, w := range watchers {
			s := summaryOf(t, w.agent, spec.UID)
			events := w.agent.forPod(spec.UID)
			if c := causeOf(events, "main"); s.Verdict != "killed" || c.GetCause() != apiv1.CauseFrozen {
				t.Errorf("%s: verdict %q cause %v, want killed and %s; evidence %q", w.name, s.Verdict, c, apiv1.CauseFrozen, s.Evidence)
			}
		}
	})
}
