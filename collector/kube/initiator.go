package kube

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	appslisters "k8s.io/client-go/listers/apps/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// The DisruptionTarget condition's reasons. Only TerminationByKubelet and
// PreemptionByScheduler are constants of k8s.io/api; the others are written
// by the API server's eviction registry, the taint manager and the pod
// garbage collector as literals.
const (
	reasonEviction     = "EvictionByEvictionAPI"
	reasonTaintManager = "DeletionByTaintManager"
	reasonPodGC        = "DeletionByPodGC"
)

// disruptionInitiators maps a DisruptionTarget reason to its initiator.
var disruptionInitiators = map[string]string{
	corev1.PodReasonPreemptionByScheduler: apiv1.InitiatorPreemption,
	reasonEviction:                        apiv1.InitiatorEviction,
	reasonTaintManager:                    apiv1.InitiatorTaintManager,
	reasonPodGC:                           apiv1.InitiatorPodGC,
	corev1.PodReasonTerminationByKubelet:  apiv1.InitiatorKubelet,
}

// The annotation by which a Deployment and its ReplicaSets carry their
// revision: a ReplicaSet whose revision is not its Deployment's is an old
// one, which a rollout scales down.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// owners are the informers' caches the reading rule looks owners up in.
// Lookups read memory only, so the rule may run under the tracker's lock.
type owners struct {
	pods         corelisters.PodLister
	replicaSets  appslisters.ReplicaSetLister
	deployments  appslisters.DeploymentLister
	statefulSets appslisters.StatefulSetLister
	jobs         batchlisters.JobLister
	// synced tells whether every owner cache holds its first listing; a
	// lookup before then would take a missing owner for a deleted one.
	synced func() bool
}

// readInitiator is the one rule that says who started a pod's termination,
// and which workload owns the pod: the API's own word first (the
// DisruptionTarget condition, set before the delete), then the state of the
// pod's controller, and a plain delete when nothing else explains it. The
// initiator is empty when the owners' caches are not filled yet, so that
// it is never guessed.
func readInitiator(p *corev1.Pod, o *owners) (string, *apiv1.WorkloadRef) {
	ctl := metav1.GetControllerOf(p)
	workload, rs, rsErr := podWorkload(p, o)
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			if in, ok := disruptionInitiators[c.Reason]; ok {
				return in, workload
			}
		}
	}
	if ctl == nil {
		return apiv1.InitiatorAPIDelete, nil
	}
	if o == nil || !o.synced() {
		return "", workload
	}
	switch ctl.Kind {
	case "ReplicaSet":
		return replicaSetInitiator(p, rs, rsErr, o), workload
	case "StatefulSet":
		return statefulSetInitiator(p, ctl.Name, o), workload
	case "Job":
		return jobInitiator(p.Namespace, ctl.Name, o), workload
	}
	// DaemonSets and other controllers: only the DisruptionTarget condition
	// tells them apart from a plain delete.
	return apiv1.InitiatorAPIDelete, workload
}

// podWorkload is the one rule that names a pod's owner workload: its
// controller, with a ReplicaSet resolved to its Deployment, so that a
// Deployment's pods count under it whatever their revision. It returns
// the ReplicaSet it looked up, if any, for the initiator to read.
func podWorkload(p *corev1.Pod, o *owners) (workload *apiv1.WorkloadRef, rs *appsv1.ReplicaSet, rsErr error) {
	ctl := metav1.GetControllerOf(p)
	if ctl == nil {
		return nil, nil, nil
	}
	workload = &apiv1.WorkloadRef{Kind: ctl.Kind, Name: ctl.Name}
	if ctl.Kind == "ReplicaSet" && o != nil {
		rs, rsErr = o.replicaSets.ReplicaSets(p.Namespace).Get(ctl.Name)
		if rsErr == nil {
			if d := metav1.GetControllerOf(rs); d != nil && d.Kind == "Deployment" {
				workload = &apiv1.WorkloadRef{Kind: d.Kind, Name: d.Name}
			}
		}
	}
	return workload, rs, rsErr
}

// replicaSetInitiator reads a ReplicaSet's pod: an old revision of a
// Deployment is a rollout; a ReplicaSet with more live pods than it wants
// is scaling down.
func replicaSetInitiator(p *corev1.Pod, rs *appsv1.ReplicaSet, err error, o *owners) string {
	if gone(rs, err) {
		return apiv1.InitiatorOwnerDeleted
	}
	if d := metav1.GetControllerOf(rs); d != nil && d.Kind == "Deployment" {
		dep, err := o.deployments.Deployments(p.Namespace).Get(d.Name)
		if gone(dep, err) {
			return apiv1.InitiatorOwnerDeleted
		}
		if rev := dep.Annotations[revisionAnnotation]; rev != "" && rs.Annotations[revisionAnnotation] != rev {
			return apiv1.InitiatorRollout
		}
	}
	if scalingDown(p, rs.UID, rs.Spec.Replicas, o) {
		return apiv1.InitiatorScaleDown
	}
	return apiv1.InitiatorAPIDelete
}

// statefulSetInitiator reads a StatefulSet's pod: an ordinal at or past
// the replicas is a scale-down; a pod of a revision other than the one
// being rolled out is a rollout.
func statefulSetInitiator(p *corev1.Pod, name string, o *owners) string {
	sts, err := o.statefulSets.StatefulSets(p.Namespace).Get(name)
	if gone(sts, err) {
		return apiv1.InitiatorOwnerDeleted
	}
	want := int32(1)
	if sts.Spec.Replicas != nil {
		want = *sts.Spec.Replicas
	}
	if ord, err := strconv.Atoi(p.Name[strings.LastIndexByte(p.Name, '-')+1:]); err == nil && int64(ord) >= int64(want) {
		return apiv1.InitiatorScaleDown
	}
	rev := p.Labels[appsv1.ControllerRevisionHashLabelKey]
	if up := sts.Status.UpdateRevision; up != "" && rev != "" && rev != up {
		return apiv1.InitiatorRollout
	}
	return apiv1.InitiatorAPIDelete
}

// jobInitiator reads a Job's pod: a Job that finished, failed, met its
// success criteria or is suspended has its running pods removed by the Job
// controller.
func jobInitiator(ns, name string, o *owners) string {
	job, err := o.jobs.Jobs(ns).Get(name)
	if gone(job, err) {
		return apiv1.InitiatorOwnerDeleted
	}
	if job.Spec.Suspend != nil && *job.Spec.Suspend {
		return apiv1.InitiatorJob
	}
	for _, c := range job.Status.Conditions {
		switch c.Type {
		case batchv1.JobComplete, batchv1.JobFailed, batchv1.JobFailureTarget, batchv1.JobSuccessCriteriaMet:
			if c.Status == corev1.ConditionTrue {
				return apiv1.InitiatorJob
			}
		}
	}
	return apiv1.InitiatorAPIDelete
}

// scalingDown tells whether the owner, which wants replicas pods, still
// has that many live ones besides p: then p is one too many, and its
// controller removed it. A plain delete of one of exactly enough pods
// leaves one too few.
func scalingDown(p *corev1.Pod, owner types.UID, replicas *int32, o *owners) bool {
	want := int32(1)
	if replicas != nil {
		want = *replicas
	}
	pods, err := o.pods.Pods(p.Namespace).List(labels.Everything())
	if err != nil {
		return false
	}
	var live int32
	for _, q := range pods {
		c := metav1.GetControllerOf(q)
		if q.UID == p.UID || q.DeletionTimestamp != nil || c == nil || c.UID != owner {
			continue
		}
		live++
	}
	return live >= want
}

// gone tells whether an owner looked up is missing or being deleted. A
// lister fails only for a missing object.
func gone(obj metav1.Object, err error) bool {
	return err != nil || obj.GetDeletionTimestamp() != nil
}
