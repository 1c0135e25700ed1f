package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	remote "k8s.io/cri-client/pkg"

	"github.com/graceline/graceline/agent/record"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestExecsShownInTheWindowOnly runs a pod whose exec readiness probe
// succeeds every second: for ten seconds the agent records none of the
// probe's processes. Its deletion (a 3 s preStop sleep, grace 6 s) opens
// the container's termination window: the last --record-history events of
// the probe ship just before it, and the probes and an exec through the
// node's CRI socket (as kubectl exec reaches it) during the window appear.
func TestExecsShownInTheWindowOnly(t *testing.T) {
	t.Parallel()
	probe := []string{"true", "probe"}
	during := []string{"echo", "exec-during-deletion"}
	ns := newNamespace(t, "execs")
	pod := busyboxPod(ns, "execs", exitsOnTerm, 6)
	c := &pod.Spec.Containers[0]
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: probe}},
		PeriodSeconds: 1, TimeoutSeconds: 1,
	}
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "3"}}}}
	pod = createRunning(t, pod)
	uid := string(pod.UID)
	waitHandlesTerm(t, pod)
	id := containerID(t, agent.forPod(uid))
	initPID := find(agent.forPod(uid), apiv1.KindContainerStarted).GetProcess().GetPid()

	// other matches the kernel's events of main's processes other than its
	// init: the probes, the exec, the preStop hook and the shell's sleep.
	other := func(e *apiv1.Event) bool {
		return (e.Kind == apiv1.KindExec || e.Kind == apiv1.KindProcessExited) &&
			e.GetContainer().GetId() == id && e.GetProcess().GetPid() != initPID
	}
	waitFor(t, runningTimeout, "pod ready by its exec probe", func() bool { return podReady(t, pod) })
	ready := time.Now()
	time.Sleep(time.Until(ready.Add(10 * time.Second)))
	if !podReady(t, pod) {
		t.Fatalf("pod no longer ready after 10 s of its exec probe")
	}
	for _, e := range agent.forPod(uid) {
		if other(e) {
			t.Errorf("before the deletion, the stream has %s of pid %d %v", e.Kind, e.GetProcess().GetPid(), e.GetProcess().GetArgv())
		}
	}

	ctx := context.Background()
	rs, err := remote.NewRemoteRuntimeServiceBuilder().WithEndpoint(testCluster.Containerd.Endpoint()).
		WithConnectionTimeout(time.Minute).WithTracerProvider(nil).Build(ctx)
	if err != nil {
		t.Fatalf("connect to the node's CRI: %v", err)
	}
	defer rs.Close(ctx)
	deleted := time.Now()
	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	waitFor(t, time.Minute, "agent: prestop_exec", func() bool { return find(agent.forPod(uid), apiv1.KindPreStopExec) != nil })
	if out, _, err := rs.ExecSync(ctx, id, during, 5*time.Second); err != nil || string(out) != "exec-during-deletion\n" {
		t.Fatalf("ExecSync %v during the preStop hook: %q, %v", during, out, err)
	}
	waitGone(t, pod)
	s := summaryOf(t, pod)
	events := agent.forPod(uid)
	t.Logf("pod %s, times relative to the delete:%s", pod.Name, timeline(events, deleted))

	// The window opens at the preStop exec and closes with the summary.
	open := slices.IndexFunc(events, func(e *apiv1.Event) bool { return e.Kind == apiv1.KindPreStopExec })
	_, _, exitedAt := exitOf(t, events)
	opened := events[open].GetTime().AsTime()
	history := 0
	for _, e := range events[:open] {
		if !other(e) {
			continue
		}
		history++
		// A probe a second, whose exec always reaches the agent and whose
		// exit only as the kernel's sample, one every 10 s: the last few
		// events are from the last 5 s.
		if age := opened.Sub(e.GetTime().AsTime()); age > 5*time.Second {
			t.Errorf("%s of pid %d %v shipped %s before the window: want only the last ones", e.Kind, e.GetProcess().GetPid(), e.GetProcess().GetArgv(), age)
		}
	}
	var probes, execs, exits int
	pids := map[int32]bool{}
	for _, e := range events[open+1:] {
		if !other(e) {
			continue
		}
		switch argv := e.GetProcess().GetArgv(); {
		case e.Kind == apiv1.KindExec && slices.Equal(argv, probe):
			probes++
			pids[e.GetProcess().GetPid()] = true
		case e.Kind == apiv1.KindExec && slices.Equal(argv, during):
			execs++
			pids[e.GetProcess().GetPid()] = true
		case e.Kind == apiv1.KindProcessExited && pids[e.GetProcess().GetPid()]:
			exits++
		}
	}
	window := exitedAt.Sub(opened)
	t.Logf("history before the window %d; in the %s window: %d probe execs, %d execs, %d of them exited; summary %s killed=%v",
		history, window.Round(time.Millisecond), probes, execs, exits, s.GetVerdict(), s.GetKilled())
	// About twenty probe events ran before the window; the policy ships
	// the last record.DefaultHistory of them, the cluster agent's setting.
	if history != record.DefaultHistory {
		t.Errorf("%d events of main's other processes before its window, want %d", history, record.DefaultHistory)
	}
	// One probe a second runs while the preStop hook sleeps.
	if max := int(window/time.Second) + 1; probes == 0 || probes > max {
		t.Errorf("%d probe execs in the %s window, want 1 to %d", probes, window, max)
	}
	if execs != 1 || exits != probes+execs {
		t.Errorf("%d execs of %v in the window, %d of %d execs exited; want 1 and all", execs, during, exits, probes+execs)
	}
	if s.GetVerdict() != apiv1.VerdictGraceful {
		t.Errorf("summary verdict %q, want graceful", s.GetVerdict())
	}
}

// podReady says whether the API has the pod Ready.
func podReady(t *testing.T, pod *corev1.Pod) bool {
	t.Helper()
	p, err := client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
