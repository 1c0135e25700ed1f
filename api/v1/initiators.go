package apiv1

import "slices"

// Initiators of a pod's termination: who asked for it, as the Kubernetes API
// tells. delete_requested and the pod's termination_summary carry one in
// initiator. The set is closed: readers count and filter on these and
// nothing else. The rule that reads one from a pod and its owners lives in
// collector/kube (initiator.go).
const (
	// InitiatorPreemption: the scheduler preempted the pod to make room
	// for one of higher priority (DisruptionTarget PreemptionByScheduler).
	InitiatorPreemption = "preemption"
	// InitiatorEviction: a client evicted the pod through the Eviction API,
	// as kubectl drain does (DisruptionTarget EvictionByEvictionAPI).
	InitiatorEviction = "eviction_api"
	// InitiatorTaintManager: the taint manager deleted the pod for a
	// NoExecute taint it does not tolerate (DisruptionTarget
	// DeletionByTaintManager).
	InitiatorTaintManager = "taint_manager"
	// InitiatorPodGC: the pod garbage collector deleted the pod, for one of
	// a node that is gone or an orphan (DisruptionTarget DeletionByPodGC).
	InitiatorPodGC = "pod_gc"
	// InitiatorKubelet: the kubelet itself ended the pod: node-pressure
	// eviction or a graceful node shutdown (DisruptionTarget
	// TerminationByKubelet).
	InitiatorKubelet = "kubelet"
	// InitiatorRollout: the pod's workload is rolling out a new revision
	// and this pod belongs to an old one (a Deployment's old ReplicaSet, a
	// StatefulSet's old revision).
	InitiatorRollout = "rollout"
	// InitiatorScaleDown: the pod's ReplicaSet or StatefulSet had more pods
	// than it wants, so its controller removed this one.
	InitiatorScaleDown = "scale_down"
	// InitiatorJob: the pod's Job is finished, failed, past its deadline or
	// suspended, so the Job controller removed its running pods.
	InitiatorJob = "job_controller"
	// InitiatorOwnerDeleted: the pod's owner is being deleted or is gone,
	// so the garbage collector deletes its pods.
	InitiatorOwnerDeleted = "owner_deleted"
	// InitiatorAPIDelete: a plain delete through the API (a user, a script,
	// or a controller the API does not name), none of the above.
	InitiatorAPIDelete = "api_delete"
)

// InitiatorInfo is an initiator and the few words a reader sees for it.
type InitiatorInfo struct {
	Name string
	// Title says who started the termination, in an on-call engineer's
	// words.
	Title string
}

// initiatorTable is the one home of the initiators, in the order the
// reading rule tries them: the API's own word first (the DisruptionTarget
// condition), then the owner's state, and a plain delete last.
var initiatorTable = []InitiatorInfo{
	{InitiatorPreemption, "preempted by the scheduler for a pod of higher priority"},
	{InitiatorEviction, "evicted through the Eviction API: kubectl drain, an autoscaler"},
	{InitiatorTaintManager, "deleted by the taint manager for a NoExecute taint"},
	{InitiatorPodGC, "deleted by the pod garbage collector"},
	{InitiatorKubelet, "ended by the kubelet: node pressure or node shutdown"},
	{InitiatorRollout, "replaced by a rollout of its workload"},
	{InitiatorScaleDown, "removed by its workload scaling down"},
	{InitiatorJob, "stopped by the Job controller"},
	{InitiatorOwnerDeleted, "deleted with its owner"},
	{InitiatorAPIDelete, "deleted through the API"},
}

var initiatorIndex = func() map[string]InitiatorInfo {
	m := make(map[string]InitiatorInfo, len(initiatorTable))
	for _, i := range initiatorTable {
		m[i.Name] = i
	}
	return m
}()

// Initiators returns every initiator, in the table's order.
func Initiators() []InitiatorInfo { return slices.Clone(initiatorTable) }

// LookupInitiator returns an initiator's row, and false for one that does
// not exist.
func LookupInitiator(name string) (InitiatorInfo, bool) {
	i, ok := initiatorIndex[name]
	return i, ok
}
