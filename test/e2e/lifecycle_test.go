package e2e

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// fullSequence is what every pod deletion must yield, in this order, for a
// pod with one container.
var fullSequence = []string{
	apiv1.KindContainerCreated, apiv1.KindContainerStarted, apiv1.KindContainerExited,
	apiv1.KindContainerStopped, apiv1.KindSandboxStopped, apiv1.KindContainerRemoved, apiv1.KindSandboxRemoved,
}

func TestLifecycleOrder(t *testing.T) {
	cases := []struct {
		name       string
		command    []string
		wantCode   int32
		wantReason string
	}{
		{
			name:       "a container that ignores SIGTERM is killed with 137",
			command:    []string{"/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"},
			wantCode:   137,
			wantReason: apiv1.ReasonError,
		},
		{
			name:       "a container that exits 0 on SIGTERM completes",
			command:    []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"},
			wantCode:   0,
			wantReason: apiv1.ReasonCompleted,
		},
	}
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startAgent(t, "--cri-endpoint", c.Endpoint())
			agent.waitLog(t, 30*time.Second, "msg=sources")
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					spec := harness.PodSpec{
						Namespace: "e2e", Name: fmt.Sprintf("pod-%d", i), UID: fmt.Sprintf("uid-%s-%d-%d", f, i, time.Now().UnixNano()),
						GracePeriod: 2,
						Containers:  []harness.ContainerSpec{{Name: "main", Command: tc.command}},
					}
					pod, events := runAndDelete(t, d, agent, spec)
					for _, e := range events {
						if e.Pod.Namespace != "e2e" || e.Pod.Name != spec.Name || e.Node != "e2e-node" {
							t.Errorf("%s: pod = %v node = %q, want e2e/%s on e2e-node", e.Kind, e.Pod, e.Node, spec.Name)
						}
						if !slices.Contains(fullSequence, e.Kind) || e.Kind == apiv1.KindSandboxStopped || e.Kind == apiv1.KindSandboxRemoved {
							continue
						}
						if e.Container.GetName() != "main" || e.Container.GetId() != pod.Containers["main"] {
							t.Errorf("%s: container = %v, want main/%s", e.Kind, e.Container, pod.Containers["main"])
						}
					}
					exited := find(events, apiv1.KindContainerExited)
					if exited.ExitCode == nil || *exited.ExitCode != tc.wantCode || exited.Reason != tc.wantReason {
						t.Errorf("container_exited = code %v reason %q, want %d %q", exited.ExitCode, exited.Reason, tc.wantCode, tc.wantReason)
					}
					if exited.ExitedAt == nil {
						t.Errorf("container_exited has no exited_at")
					}
					if started := find(events, apiv1.KindContainerStarted); started.GetProcess().GetPid() <= 0 {
						t.Errorf("container_started has no pid: %v", started)
					}
				})
			}
		})
	}
}

// runAndDelete runs a pod, deletes it once the agent saw it start, and
// returns its events, after checking, for a one-container pod, that they are
// the full sequence.
func runAndDelete(t *testing.T, d *harness.Driver, agent *agentProc, spec harness.PodSpec) (*harness.Pod, []*apiv1.Event) {
	t.Helper()
	ctx := context.Background()
	pod, err := d.RunPod(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, agent, spec)
	if err := d.DeletePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "sandbox_removed", func() bool { return hasKind(agent.forPod(spec.UID), apiv1.KindSandboxRemoved) })
	events := agent.forPod(spec.UID)
	if len(spec.Containers) != 1 {
		return pod, events
	}
	if got := lifecycle(events); fmt.Sprint(got) != fmt.Sprint(fullSequence) {
		t.Fatalf("lifecycle events = %v, want %v", got, fullSequence)
	}
	return pod, events
}

// waitStarted waits until the agent saw every container of the pod start and
// each one's PID 1 has set its SIGTERM disposition (the workloads' first
// command is a trap). A SIGTERM that came earlier would find a namespace's
// init without a handler, and the kernel drops those.
func waitStarted(t testing.TB, agent *agentProc, spec harness.PodSpec) {
	t.Helper()
	var pids []int32
	waitFor(t, 30*time.Second, "container_started", func() bool {
		pids = pids[:0]
		for _, e := range agent.forPod(spec.UID) {
			if e.Kind == apiv1.KindContainerStarted {
				pids = append(pids, e.GetProcess().GetPid())
			}
		}
		return len(pids) == len(spec.Containers)
	})
	for _, pid := range pids {
		waitFor(t, 30*time.Second, fmt.Sprintf("pid %d to trap SIGTERM", pid), func() bool { return harness.HandlesSignal(pid, syscall.SIGTERM) })
	}
}

// lifecycle returns the kinds of the runtime's lifecycle events, leaving out
// the kernel's.
func lifecycle(events []*apiv1.Event) []string {
	var out []string
	for _, k := range kinds(events) {
		if slices.Contains(fullSequence, k) {
			out = append(out, k)
		}
	}
	return out
}

func kinds(events []*apiv1.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Kind)
	}
	return out
}

func hasKind(events []*apiv1.Event, kind string) bool { return find(events, kind) != nil }

func find(events []*apiv1.Event, kind string) *apiv1.Event {
	for _, e := range events {
		if e.Kind == kind {
			return e
		}
	}
	return nil
}
