package kube

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The informers keep only what the cluster side reads, so that a large
// cluster's pods and nodes cost little memory.

// trimObjectMeta drops managed fields and annotations, which nothing here
// reads.
func trimObjectMeta(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
		m.SetAnnotations(nil)
	}
	return obj, nil
}

// trimPod keeps the pod's identity, deletion fields, finalizers and node,
// and what its initiator is read from: its owners, its revision label and
// its DisruptionTarget condition.
func trimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return trimObjectMeta(obj)
	}
	out := &corev1.Pod{
		ObjectMeta: metaOnly(p.ObjectMeta),
		Spec:       corev1.PodSpec{NodeName: p.Spec.NodeName, TerminationGracePeriodSeconds: p.Spec.TerminationGracePeriodSeconds},
		Status:     corev1.PodStatus{Phase: p.Status.Phase},
	}
	out.OwnerReferences = p.OwnerReferences
	if rev, ok := p.Labels[appsv1.ControllerRevisionHashLabelKey]; ok {
		out.Labels = map[string]string{appsv1.ControllerRevisionHashLabelKey: rev}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget {
			out.Status.Conditions = append(out.Status.Conditions, c)
		}
	}
	return out, nil
}

// trimOwner keeps of a pod's owner what the initiator is read from: its
// identity, owners and revision annotation, the replicas it wants, its
// revisions and its Job conditions.
func trimOwner(obj any) (any, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil
	}
	keep := metaOnly(metav1.ObjectMeta{
		Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(),
		DeletionTimestamp: m.GetDeletionTimestamp(),
	})
	keep.OwnerReferences = m.GetOwnerReferences()
	if rev, ok := m.GetAnnotations()[revisionAnnotation]; ok {
		keep.Annotations = map[string]string{revisionAnnotation: rev}
	}
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		return &appsv1.ReplicaSet{ObjectMeta: keep, Spec: appsv1.ReplicaSetSpec{Replicas: o.Spec.Replicas}}, nil
	case *appsv1.Deployment:
		return &appsv1.Deployment{ObjectMeta: keep, Spec: appsv1.DeploymentSpec{Replicas: o.Spec.Replicas}}, nil
	case *appsv1.StatefulSet:
		return &appsv1.StatefulSet{ObjectMeta: keep, Spec: appsv1.StatefulSetSpec{Replicas: o.Spec.Replicas},
			Status: appsv1.StatefulSetStatus{UpdateRevision: o.Status.UpdateRevision, CurrentRevision: o.Status.CurrentRevision}}, nil
	case *batchv1.Job:
		return &batchv1.Job{ObjectMeta: keep, Spec: batchv1.JobSpec{Suspend: o.Spec.Suspend},
			Status: batchv1.JobStatus{Conditions: o.Status.Conditions}}, nil
	}
	return trimObjectMeta(obj)
}

// trimNode keeps the node's name and its Ready condition.
func trimNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return trimObjectMeta(obj)
	}
	out := &corev1.Node{ObjectMeta: metaOnly(n.ObjectMeta)}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Status.Conditions = []corev1.NodeCondition{c}
		}
	}
	return out, nil
}

func metaOnly(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		DeletionTimestamp: m.DeletionTimestamp, DeletionGracePeriodSeconds: m.DeletionGracePeriodSeconds,
		Finalizers: m.Finalizers,
	}
}
