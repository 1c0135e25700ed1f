package cluster_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestDeploymentScaledToZero scales a Deployment from 3 to 0: the
// ReplicaSet controller deletes every pod through the API, and the agent
// must give each its full lifecycle under the UID the API gave it.
func TestDeploymentScaledToZero(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t, "deploy")
	labels := map[string]string{"app": "web"}
	createDeployment(t, ns, "web", labels, 3, 5)
	var pods []corev1.Pod
	waitFor(t, runningTimeout, "3 running pods", func() bool {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				pods = append(pods, p)
			}
		}
		return len(pods) == 3
	})
	for _, p := range pods {
		waitFor(t, runningTimeout, "agent: container_started of "+p.Name, func() bool {
			return find(agent.forPod(string(p.UID)), apiv1.KindContainerStarted) != nil
		})
	}

	scaled := time.Now()
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}, Spec: autoscalingv1.ScaleSpec{Replicas: 0}}
	if _, err := client.AppsV1().Deployments(ns).UpdateScale(ctx, "web", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scale deployment to 0: %v", err)
	}
	for _, p := range pods {
		waitGone(t, &p)
	}
	for _, p := range pods {
		events := waitLifecycle(t, &p, scaled)
		if code, reason, _ := exitOf(t, events); code != 0 || reason != apiv1.ReasonCompleted {
			t.Errorf("pod %s: container_exited code %d reason %q, want 0 Completed", p.Name, code, reason)
		}
	}
}

// createDeployment creates a Deployment of busybox pods that exit on
// SIGTERM, labelled and selected by labels.
func createDeployment(t *testing.T, ns, name string, labels map[string]string, replicas int32, grace int64) {
	t.Helper()
	createScriptDeployment(t, ns, name, labels, replicas, grace, exitsOnTerm)
}

// createScriptDeployment creates a Deployment of busybox pods that run
// script, labelled and selected by labels.
func createScriptDeployment(t *testing.T, ns, name string, labels map[string]string, replicas int32, grace int64, script string) {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers:                    []corev1.Container{busyboxContainer(script)},
				},
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s: %v", name, err)
	}
}
