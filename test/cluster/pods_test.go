package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"syscall"
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

// waitHandlesTerm waits until the pod's first container's PID 1 has trapped
// SIGTERM: a SIGTERM before the shell set its trap would find a PID
// namespace's init without a handler, and the kernel drops it.
func waitHandlesTerm(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	var pid int32
	waitFor(t, runningTimeout, "agent: the container's pid", func() bool {
		e := find(agent.forPod(string(pod.UID)), apiv1.KindContainerStarted)
		pid = e.GetProcess().GetPid()
		return pid > 0
	})
	waitFor(t, 30*time.Second, fmt.Sprintf("pid %d to trap SIGTERM", pid), func() bool { return harness.HandlesSignal(pid, syscall.SIGTERM) })
}
