package kube

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appslisters "k8s.io/client-go/listers/apps/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	apiv1 "github.com/graceline/graceline/api/v1"
)

const ns = "shop"

func ptr[T any](v T) *T { return &v }

func ownedBy(kind, name string, uid types.UID) []metav1.OwnerReference {
	return []metav1.OwnerReference{{Kind: kind, Name: name, UID: uid, Controller: ptr(true)}}
}

func objMeta(name string, uid types.UID, owners []metav1.OwnerReference, rev string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Namespace: ns, Name: name, UID: uid, OwnerReferences: owners}
	if rev != "" {
		m.Annotations = map[string]string{revisionAnnotation: rev}
	}
	return m
}

func deployment(rev string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: objMeta("web", "dep", nil, rev), Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(2))}}
}

func replicaSet(name string, uid types.UID, rev string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: objMeta(name, uid, ownedBy("Deployment", "web", "dep"), rev), Spec: appsv1.ReplicaSetSpec{Replicas: ptr(replicas)}}
}

func pod(name string, owners []metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: objMeta(name, types.UID("uid-"+name), owners, "")}
}

func deleting(p *corev1.Pod) *corev1.Pod {
	p.DeletionTimestamp = &metav1.Time{}
	return p
}

func disrupted(p *corev1.Pod, reason string) *corev1.Pod {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reason}}
	return p
}

// cachesOf builds the owners' caches from objects, with client-go's own
// listers over indexers, as the informers fill them.
func cachesOf(t *testing.T, objs ...any) *owners {
	t.Helper()
	idx := map[string]cache.Indexer{}
	for _, k := range []string{"pods", "rs", "deps", "sts", "jobs"} {
		idx[k] = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	for _, o := range objs {
		var k string
		switch o.(type) {
		case *corev1.Pod:
			k = "pods"
		case *appsv1.ReplicaSet:
			k = "rs"
		case *appsv1.Deployment:
			k = "deps"
		case *appsv1.StatefulSet:
			k = "sts"
		case *batchv1.Job:
			k = "jobs"
		}
		if err := idx[k].Add(o); err != nil {
			t.Fatalf("add %T: %v", o, err)
		}
	}
	return &owners{
		pods: corelisters.NewPodLister(idx["pods"]), replicaSets: appslisters.NewReplicaSetLister(idx["rs"]),
		deployments: appslisters.NewDeploymentLister(idx["deps"]), statefulSets: appslisters.NewStatefulSetLister(idx["sts"]),
		jobs: batchlisters.NewJobLister(idx["jobs"]), synced: func() bool { return true },
	}
}

func TestReadInitiator(t *testing.T) {
	rsOwner := ownedBy("ReplicaSet", "web-new", "rs-new")
	oldOwner := ownedBy("ReplicaSet", "web-old", "rs-old")
	stsOwner := ownedBy("StatefulSet", "db", "sts")
	jobOwner := ownedBy("Job", "batch", "job")
	sts := func(replicas int32, update string) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{ObjectMeta: objMeta("db", "sts", nil, ""), Spec: appsv1.StatefulSetSpec{Replicas: ptr(replicas)},
			Status: appsv1.StatefulSetStatus{UpdateRevision: update}}
	}
	stsPod := func(name, rev string) *corev1.Pod {
		p := deleting(pod(name, stsOwner))
		p.Labels = map[string]string{appsv1.ControllerRevisionHashLabelKey: rev}
		return p
	}
	job := func(conds ...batchv1.JobConditionType) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: objMeta("batch", "job", nil, "")}
		for _, c := range conds {
			j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: c, Status: corev1.ConditionTrue})
		}
		return j
	}
	dep := &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		objs     []any
		want     string
		workload *apiv1.WorkloadRef
	}{
		{"A pod evicted through the Eviction API is an eviction, whatever its owner does.",
			disrupted(deleting(pod("a", rsOwner)), reasonEviction),
			[]any{deployment("2"), replicaSet("web-new", "rs-new", "2", 1)}, apiv1.InitiatorEviction, dep},
		{"A preempted pod names the scheduler.", disrupted(deleting(pod("a", nil)), corev1.PodReasonPreemptionByScheduler), nil, apiv1.InitiatorPreemption, nil},
		{"A pod the taint manager deleted names it.", disrupted(deleting(pod("a", nil)), reasonTaintManager), nil, apiv1.InitiatorTaintManager, nil},
		{"A pod the pod GC deleted names it.", disrupted(deleting(pod("a", nil)), reasonPodGC), nil, apiv1.InitiatorPodGC, nil},
		{"A pod the kubelet ended names the kubelet.", disrupted(deleting(pod("a", nil)), corev1.PodReasonTerminationByKubelet), nil, apiv1.InitiatorKubelet, nil},
		{"A DisruptionTarget reason graceline does not know falls through to the owner.",
			disrupted(deleting(pod("a", nil)), "SomethingNew"), nil, apiv1.InitiatorAPIDelete, nil},
		{"A pod without an owner deleted through the API is a plain delete.", deleting(pod("a", nil)), nil, apiv1.InitiatorAPIDelete, nil},
		{"A pod of a Deployment's old ReplicaSet is a rollout.",
			deleting(pod("a", oldOwner)),
			[]any{deployment("2"), replicaSet("web-old", "rs-old", "1", 0), replicaSet("web-new", "rs-new", "2", 1)}, apiv1.InitiatorRollout, dep},
		{"A pod of the current ReplicaSet with enough other live pods is a scale-down.",
			deleting(pod("a", rsOwner)),
			[]any{deployment("2"), replicaSet("web-new", "rs-new", "2", 1), pod("b", rsOwner)}, apiv1.InitiatorScaleDown, dep},
		{"A pod of the current ReplicaSet deleted from exactly enough pods is a plain delete.",
			deleting(pod("a", rsOwner)),
			[]any{deployment("2"), replicaSet("web-new", "rs-new", "2", 2), pod("b", rsOwner), deleting(pod("c", rsOwner))}, apiv1.InitiatorAPIDelete, dep},
		{"A pod whose Deployment is being deleted goes with its owner.",
			deleting(pod("a", rsOwner)),
			[]any{func() *appsv1.Deployment { d := deployment("2"); d.DeletionTimestamp = &metav1.Time{}; return d }(), replicaSet("web-new", "rs-new", "2", 2)},
			apiv1.InitiatorOwnerDeleted, dep},
		{"A pod whose ReplicaSet is gone goes with its owner, named by the pod.",
			deleting(pod("a", rsOwner)), nil, apiv1.InitiatorOwnerDeleted, &apiv1.WorkloadRef{Kind: "ReplicaSet", Name: "web-new"}},
		{"A StatefulSet's pod past its replicas is a scale-down.", stsPod("db-2", "r1"), []any{sts(2, "r1")}, apiv1.InitiatorScaleDown, &apiv1.WorkloadRef{Kind: "StatefulSet", Name: "db"}},
		{"A StatefulSet's pod of an old revision is a rollout.", stsPod("db-1", "r1"), []any{sts(2, "r2")}, apiv1.InitiatorRollout, &apiv1.WorkloadRef{Kind: "StatefulSet", Name: "db"}},
		{"A StatefulSet's current pod within its replicas is a plain delete.", stsPod("db-0", "r2"), []any{sts(2, "r2")}, apiv1.InitiatorAPIDelete, &apiv1.WorkloadRef{Kind: "StatefulSet", Name: "db"}},
		{"A failing Job's pod is stopped by the Job controller.", deleting(pod("a", jobOwner)), []any{job(batchv1.JobFailureTarget)}, apiv1.InitiatorJob, &apiv1.WorkloadRef{Kind: "Job", Name: "batch"}},
		{"A running Job's pod deleted through the API is a plain delete.", deleting(pod("a", jobOwner)), []any{job()}, apiv1.InitiatorAPIDelete, &apiv1.WorkloadRef{Kind: "Job", Name: "batch"}},
		{"A DaemonSet's pod is named by its DaemonSet.", deleting(pod("a", ownedBy("DaemonSet", "agent", "ds"))), nil, apiv1.InitiatorAPIDelete, &apiv1.WorkloadRef{Kind: "DaemonSet", Name: "agent"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, workload := readInitiator(tc.pod, cachesOf(t, tc.objs...))
			if got != tc.want {
				t.Errorf("initiator = %q, want %q", got, tc.want)
			}
			if workload.GetKind() != tc.workload.GetKind() || workload.GetName() != tc.workload.GetName() {
				t.Errorf("workload = %v, want %v", workload, tc.workload)
			}
		})
	}
}

func TestReadInitiatorBeforeTheCachesFillSaysNothing(t *testing.T) {
	o := cachesOf(t)
	o.synced = func() bool { return false }
	got, workload := readInitiator(deleting(pod("a", ownedBy("Job", "batch", "job"))), o)
	if got != "" {
		t.Errorf("initiator = %q before the owners' caches are filled, want none", got)
	}
	if workload.GetKind() != "Job" || workload.GetName() != "batch" {
		t.Errorf("workload = %v, want Job batch", workload)
	}
}
