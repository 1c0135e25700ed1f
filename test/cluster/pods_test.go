package cluster_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/cluster"
	"github.com/graceline/graceline/test/harness"
)

// Deadlines are generous: two cores are shared with other test packages,
// and the kubelet removes a deleted pod's sandbox only in its container
// garbage collection, which runs once a minute.
const (
	runningTimeout = 2 * time.Minute
	goneTimeout    = 2 * time.Minute
	removedTimeout = 4 * time.Minute
)

// fullSequence is every lifecycle step of a one-container pod, in the order
// the agent must report them for a pod deleted through the API.
var fullSequence = []string{
	apiv1.KindContainerCreated, apiv1.KindContainerStarted, apiv1.KindContainerExited,
	apiv1.KindContainerStopped, apiv1.KindSandboxStopped, apiv1.KindContainerRemoved, apiv1.KindSandboxRemoved,
}

// newNamespace creates a namespace for one test, waits for its default
// ServiceAccount, and deletes it when the test ends.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 3)
	rand.Read(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-" + hex.EncodeToString(b)}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() { client.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}) })
	if err := cluster.WaitServiceAccount(ctx, client, ns.Name); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// Container scripts. The shell is the container's PID 1 and waits on a
// child, so that the kernel reports few processes; when PID 1 dies, the
// kernel kills the child with the rest of the PID namespace.
const (
	exitsOnTerm = "trap 'exit 0' TERM; sleep 3600 & wait"
	ignoresTerm = "trap '' TERM; sleep 3600 & wait"
)

// busyboxPod is a one-container pod ("main") on the local busybox image.
func busyboxPod(ns, name, script string, grace int64) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			RestartPolicy:                 corev1.RestartPolicyNever,
			Containers:                    []corev1.Container{busyboxContainer(script)},
		},
	}
}

func busyboxContainer(script string) corev1.Container {
	return corev1.Container{
		Name:            "main",
		Image:           harness.BusyboxImage,
		ImagePullPolicy: corev1.PullNever,
		Command:         []string{"/bin/sh", "-c", script},
	}
}

// createRunning creates the pod and waits until it runs and the agent has
// seen its container start; it returns the pod as the API has it.
func createRunning(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	created, err := client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	var got *corev1.Pod
	waitFor(t, runningTimeout, "pod "+pod.Name+" running", func() bool {
		got, err = client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		return err == nil && got.Status.Phase == corev1.PodRunning
	})
	waitFor(t, runningTimeout, "agent: container_started of "+pod.Name, func() bool {
		return find(agent.forPod(string(created.UID)), apiv1.KindContainerStarted) != nil
	})
	return got
}

// deleteAndWaitGone deletes the pod with its own grace period, as kubectl
// delete does, and waits until the API no longer has it. It returns when
// the delete request was sent.
func deleteAndWaitGone(t *testing.T, pod *corev1.Pod) time.Time {
	t.Helper()
	ctx := context.Background()
	sent := time.Now()
	if err := client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod %s: %v", pod.Name, err)
	}
	waitGone(t, pod)
	return sent
}

// waitGone waits until the API no longer has the pod (same name and UID).
func waitGone(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	waitFor(t, goneTimeout, "pod "+pod.Name+" gone from the API", func() bool {
		p, err := client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err) || (err == nil && p.UID != pod.UID)
	})
}

// waitLifecycle waits until the agent reports the pod's sandbox removed and
// checks that its events are the full sequence, about this pod and node.
// It logs the timeline relative to deleted, when the deletion was asked for.
func waitLifecycle(t *testing.T, pod *corev1.Pod, deleted time.Time) []*apiv1.Event {
	t.Helper()
	uid := string(pod.UID)
	waitFor(t, removedTimeout, "agent: sandbox_removed of "+pod.Name, func() bool {
		return find(agent.forPod(uid), apiv1.KindSandboxRemoved) != nil
	})
	events := agent.forPod(uid)
	t.Logf("pod %s (uid %s), times relative to the delete:%s", pod.Name, uid, timeline(events, deleted))
	if got := lifecycle(events); strings.Join(got, ",") != strings.Join(fullSequence, ",") {
		t.Errorf("pod %s: agent's lifecycle events = %v, want %v", pod.Name, got, fullSequence)
	}
	for _, e := range events {
		if e.Pod.GetNamespace() != pod.Namespace || e.Pod.GetName() != pod.Name || e.Pod.GetUid() != uid || e.Node != testCluster.NodeName {
			t.Errorf("%s: pod %v on node %q, want %s/%s uid %s on %s", e.Kind, e.Pod, e.Node, pod.Namespace, pod.Name, uid, testCluster.NodeName)
		}
		if slices.Contains(fullSequence, e.Kind) && strings.HasPrefix(e.Kind, "container_") && e.Container.GetName() != "main" {
			t.Errorf("%s: container %v, want main", e.Kind, e.Container)
		}
	}
	return events
}

// exitOf returns the agent's container_exited code and reason.
func exitOf(t *testing.T, events []*apiv1.Event) (int32, string, time.Time) {
	t.Helper()
	e := find(events, apiv1.KindContainerExited)
	if e == nil || e.ExitCode == nil || e.ExitedAt == nil {
		t.Fatalf("no container_exited with exit code and time in %v", kinds(events))
	}
	return *e.ExitCode, e.Reason, e.ExitedAt.AsTime()
}

// kubeletGracePeriodRE matches the kubelet's log line (at -v 2) that names
// the grace period it passes to the runtime's StopContainer, after taking
// off the time a preStop hook used.
var kubeletGracePeriodRE = regexp.MustCompile(`"Killing container with a grace period".*containerID="containerd://([0-9a-f]+)".*gracePeriod=(\d+)`)

// kubeletGracePeriod returns the StopContainer timeout the kubelet used for
// the container, from its log.
func kubeletGracePeriod(t *testing.T, containerID string) int64 {
	t.Helper()
	f, err := os.Open(testCluster.LogPath("kubelet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := kubeletGracePeriodRE.FindStringSubmatch(sc.Text()); m != nil && m[1] == containerID {
			n, _ := strconv.ParseInt(m[2], 10, 64)
			return n
		}
	}
	t.Fatalf("kubelet log has no grace period for container %s", containerID)
	return 0
}

// summaryOf waits for the agent's termination_summary of the pod, which it
// emits shortly after the sandbox is removed.
func summaryOf(t *testing.T, pod *corev1.Pod) *apiv1.Event {
	t.Helper()
	waitFor(t, time.Minute, "agent: termination_summary of "+pod.Name, func() bool {
		return find(agent.forPod(string(pod.UID)), apiv1.KindTerminationSummary) != nil
	})
	return find(agent.forPod(string(pod.UID)), apiv1.KindTerminationSummary)
}

func containerID(t *testing.T, events []*apiv1.Event) string {
	t.Helper()
	e := find(events, apiv1.KindContainerStarted)
	if e == nil || e.Container.GetId() == "" {
		t.Fatalf("no container_started with a container id in %v", kinds(events))
	}
	return e.Container.GetId()
}

// waitFor polls cond every 100 ms until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lifecycle keeps the kinds of fullSequence, in order, dropping the
// kernel's and the release watchers' events.
func lifecycle(events []*apiv1.Event) []string {
	var out []string
	for _, e := range events {
		if slices.Contains(fullSequence, e.Kind) {
			out = append(out, e.Kind)
		}
	}
	return out
}

// timeline renders events one a line, relative to since, for the test log.
func timeline(events []*apiv1.Event, since time.Time) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n  %+9.3fs  %-20s", e.Time.AsTime().Sub(since).Seconds(), e.Kind)
		switch {
		case e.Kind == apiv1.KindSignalGenerated:
			fmt.Fprintf(&b, " %s %s(%d) -> %d (%s) %s", e.Signal.GetName(), e.Sender.GetComm(), e.Sender.GetPid(), e.Target.GetPid(), e.Target.GetComm(), e.Signal.GetResult())
		case e.Kind == apiv1.KindSignalDelivered:
			fmt.Fprintf(&b, " %s to %d (%s) %s", e.Signal.GetName(), e.Target.GetPid(), e.Target.GetComm(), e.Disposition)
		case e.Kind == apiv1.KindProcessExited:
			fmt.Fprintf(&b, " %d (%s) exit=%d signal=%d", e.Process.GetPid(), e.Process.GetComm(), e.GetExitCode(), e.GetExitSignal())
		case e.Kind == apiv1.KindPreStopExec || e.Kind == apiv1.KindExec:
			fmt.Fprintf(&b, " %v", e.Process.GetArgv())
		case e.ExitCode != nil:
			fmt.Fprintf(&b, " exit=%d %s", *e.ExitCode, e.Reason)
		case e.Path != "":
			fmt.Fprintf(&b, " %s", e.Path)
		case e.Kind == apiv1.KindStuck:
			fmt.Fprintf(&b, " blocking=%s evidence=%q", e.BlockingPhase, e.Evidence)
		case e.Kind == apiv1.KindTerminationSummary:
			fmt.Fprintf(&b, " verdict=%s killed=%v grace=%ds", e.Verdict, e.GetKilled(), e.GetGracePeriodS())
		}
	}
	return b.String()
}

// findWhere returns the first event of the kind for which ok holds.
func findWhere(events []*apiv1.Event, kind string, ok func(*apiv1.Event) bool) *apiv1.Event {
	for _, e := range events {
		if e.Kind == kind && ok(e) {
			return e
		}
	}
	return nil
}

// signalTo matches a signal_generated to the process with the host pid.
func signalTo(pid int32, name string) func(*apiv1.Event) bool {
	return func(e *apiv1.Event) bool { return e.GetSignal().GetName() == name && e.GetTarget().GetPid() == pid }
}

func kinds(events []*apiv1.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Kind)
	}
	return out
}

func find(events []*apiv1.Event, kind string) *apiv1.Event {
	for _, e := range events {
		if e.Kind == kind {
			return e
		}
	}
	return nil
}
