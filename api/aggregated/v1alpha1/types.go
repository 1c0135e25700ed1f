package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PodTermination is one pod's termination as the collector knows it: its
// summary with the verdict, the phases, the cause and the evidence. It is
// named and namespaced like the pod; its uid is the pod's.
type PodTermination struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status PodTerminationStatus `json:"status"`
}

// PodTerminationStatus is a termination_summary of the event contract, in
// the API's camelCase form.
type PodTerminationStatus struct {
	// NodeName is the node the pod ran on.
	NodeName string `json:"nodeName,omitempty"`
	// Verdict is graceful, killed or stuck.
	Verdict string `json:"verdict"`
	// Cause is the container cause that stands for the whole pod.
	Cause string `json:"cause"`
	// Initiator says who asked for the termination, read from the API.
	Initiator string `json:"initiator,omitempty"`
	// GracePeriodSeconds is the grace period the pod was given.
	GracePeriodSeconds *int32 `json:"gracePeriodSeconds,omitempty"`
	// Killed says whether SIGKILL was needed.
	Killed bool `json:"killed"`
	// Duration is how long the termination took by its phases.
	Duration *metav1.Duration `json:"duration,omitempty"`
	// Phases are the phases that happened, in order.
	Phases []Phase `json:"phases,omitempty"`
	// Containers give each container's cause, advice and facts.
	Containers []ContainerCause `json:"containers,omitempty"`
	// ExitCodes maps container names to their init process's exit code.
	ExitCodes map[string]int32 `json:"exitCodes,omitempty"`
	// BlockingPhase and Evidence say what holds a stuck termination.
	BlockingPhase string   `json:"blockingPhase,omitempty"`
	Evidence      []string `json:"evidence,omitempty"`
	// EndpointLag is the stop signal's time minus the moment the last
	// Service stopped offering the pod, when the collector watched both.
	EndpointLag *metav1.Duration `json:"endpointLag,omitempty"`
	// TrafficRisk says the pod was signalled while a Service could still
	// send it requests.
	TrafficRisk *bool `json:"trafficRisk,omitempty"`
	// LastEventTime is when the summary was last brought up to date.
	LastEventTime *metav1.Time `json:"lastEventTime,omitempty"`
}

// Phase is one phase of a termination, with its start and end, to the
// microsecond: phases often last milliseconds.
type Phase struct {
	Name  string            `json:"name"`
	Start *metav1.MicroTime `json:"start,omitempty"`
	End   *metav1.MicroTime `json:"end,omitempty"`
}

// ContainerCause is why one container ended the way it did.
type ContainerCause struct {
	Name   string   `json:"name"`
	Cause  string   `json:"cause"`
	Advice string   `json:"advice,omitempty"`
	Facts  []string `json:"facts,omitempty"`
}

// PodTerminationList is a list of PodTerminations.
type PodTerminationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []PodTermination `json:"items"`
}

// PodTerminationTimeline is the timeline subresource of a PodTermination:
// every event of the pod, in time order, each in the event contract's JSON
// form, so that readers of `kubectl graceline timeline -o json` and of the
// API parse the same lines.
type PodTerminationTimeline struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Events []runtime.RawExtension `json:"events"`
	// Summary is the termination_summary joined with the cluster side
	// (what heads `kubectl graceline timeline`), in the same form; absent
	// while no summary is known.
	Summary *runtime.RawExtension `json:"summary,omitempty"`
}

// StuckPod is a pod whose termination is stuck now: its latest stuck
// report.
type StuckPod struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status StuckPodStatus `json:"status"`
}

// StuckPodStatus is a stuck report, or a summary whose verdict is stuck.
type StuckPodStatus struct {
	NodeName string `json:"nodeName,omitempty"`
	// Source is who reported it: "node" (the pod's agent) or "api" (the
	// collector's watch of the Kubernetes API).
	Source        string           `json:"source,omitempty"`
	Since         *metav1.Time     `json:"since,omitempty"`
	BlockingPhase string           `json:"blockingPhase,omitempty"`
	Evidence      []string         `json:"evidence,omitempty"`
	Containers    []ContainerCause `json:"containers,omitempty"`
	// Finalizers are the finalizers that still hold the object.
	Finalizers []string `json:"finalizers,omitempty"`
}

// StuckPodList is a list of StuckPods.
type StuckPodList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []StuckPod `json:"items"`
}

// TimelineOptions are the query parameters of the timeline subresource:
// uid picks one incarnation of a pod name (a pod recreated under the same
// name), as `kubectl graceline timeline --uid` does; without it the latest
// is served.
type TimelineOptions struct {
	metav1.TypeMeta `json:",inline"`

	// UID is the pod's uid.
	UID string `json:"uid,omitempty"`
}

// WorkloadReport is what one owner workload's pods went through on their
// way out, over a window that ends now: the answer of `kubectl graceline
// report` for one workload. It is named after its workload as
// "<kind>.<name>", the kind in lower case (deployment.web).
type WorkloadReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status WorkloadReportStatus `json:"status"`
}

// WorkloadReportStatus is a WorkloadReport of the event contract, in the
// API's camelCase form.
type WorkloadReportStatus struct {
	// Since is the start of the window: terminations whose delete request
	// is at or after it are counted.
	Since *metav1.Time `json:"since,omitempty"`
	// WorkloadKind and WorkloadName name the owner workload (a pod of a
	// ReplicaSet counts under its Deployment).
	WorkloadKind string `json:"workloadKind"`
	WorkloadName string `json:"workloadName"`
	// Terminations counts the pods whose deletion was requested in the
	// window; Finished those of them whose final summary is stored, which
	// the rest of the numbers are about, except Stuck.
	Terminations int64 `json:"terminations"`
	Finished     int64 `json:"finished"`
	// Killed counts the finished pods that needed SIGKILL.
	Killed int64 `json:"killed"`
	// TrafficRisk counts the finished pods signalled while an endpoint
	// still offered them.
	TrafficRisk int64 `json:"trafficRisk"`
	// Stuck counts the pods reported stuck at least once.
	Stuck int64 `json:"stuck"`
	// DurationP50 and DurationP95 are the nearest-rank percentiles of the
	// time from the delete request to the object's removal, over the
	// finished pods.
	DurationP50 *metav1.Duration `json:"durationP50,omitempty"`
	DurationP95 *metav1.Duration `json:"durationP95,omitempty"`
	// Cause is the most common cause of the pods' main containers, with
	// how many pods had it and the advice of the latest of them.
	Cause      string `json:"cause,omitempty"`
	CauseCount int64  `json:"causeCount,omitempty"`
	Advice     string `json:"advice,omitempty"`
	// Initiators counts the pods by who started their termination.
	Initiators map[string]int64 `json:"initiators,omitempty"`
}

// WorkloadReportList is a list of WorkloadReports, ordered by namespace,
// kind and name.
type WorkloadReportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []WorkloadReport `json:"items"`
}

// TerminationCheck is how one running container would stop if its pod
// were deleted now: the node's latest reading of its init process, judged
// again with the history of its workload; the answer of `kubectl graceline
// check` for one container. It is named "<pod>.<container>" in the pod's
// namespace.
type TerminationCheck struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status TerminationCheckStatus `json:"status"`
}

// TerminationCheckStatus is a ContainerCheck of the event contract, in the
// API's camelCase form.
type TerminationCheckStatus struct {
	// WorkloadKind and WorkloadName name the pod's owner workload; empty
	// for a pod without one, or when the collector does not watch
	// Kubernetes.
	WorkloadKind string `json:"workloadKind,omitempty"`
	WorkloadName string `json:"workloadName,omitempty"`
	// PodName and PodUID name the running pod.
	PodName string `json:"podName"`
	PodUID  string `json:"podUID,omitempty"`
	// Container is the container's name in the pod's spec.
	Container string `json:"container"`
	// Prediction is the collector's: the node's facts read again with the
	// workload's history.
	Prediction *Prediction `json:"prediction,omitempty"`
	// Readiness is what the node read of the container.
	Readiness Readiness `json:"readiness"`
	// Grace is the pod's terminationGracePeriodSeconds; unset when unknown.
	Grace *metav1.Duration `json:"grace,omitempty"`
	// Terminations counts the finished past terminations of the history;
	// Killed those that needed SIGKILL; ShutdownP95 is the p95 (nearest
	// rank) of their delete request to removal; LastCause is the cause of
	// the latest.
	Terminations int64            `json:"terminations"`
	Killed       int64            `json:"killed"`
	ShutdownP95  *metav1.Duration `json:"shutdownP95,omitempty"`
	LastCause    string           `json:"lastCause,omitempty"`
}

// Readiness is a termination_readiness of the event contract: the node's
// reading of a container's init process and children, its stop signal and
// how the init process takes it, and the node's own prediction. Times are
// to the microsecond, so that a reading is told apart from the next.
type Readiness struct {
	Time        *metav1.MicroTime `json:"time,omitempty"`
	NodeName    string            `json:"nodeName,omitempty"`
	ContainerID string            `json:"containerID,omitempty"`
	// StopSignal and StopSignalName are the signal the runtime stops the
	// container with; Disposition is what the init process does with it
	// (api/summary's dispositions: default, ignored, handler, blocked).
	StopSignal     int32  `json:"stopSignal,omitempty"`
	StopSignalName string `json:"stopSignalName,omitempty"`
	Disposition    string `json:"disposition,omitempty"`
	// Processes are the init process, then its children.
	Processes []Process `json:"processes,omitempty"`
	// Prediction is the node's, made without the workload's history.
	Prediction *Prediction `json:"prediction,omitempty"`
}

// Process is one process of a container as the node read it from /proc.
type Process struct {
	PID        int32             `json:"pid"`
	Comm       string            `json:"comm,omitempty"`
	Argv       []string          `json:"argv,omitempty"`
	PPID       int32             `json:"ppid,omitempty"`
	State      string            `json:"state,omitempty"`
	Started    *metav1.MicroTime `json:"started,omitempty"`
	SigIgnored []string          `json:"sigIgnored,omitempty"`
	SigCaught  []string          `json:"sigCaught,omitempty"`
	SigBlocked []string          `json:"sigBlocked,omitempty"`
	SigPending []string          `json:"sigPending,omitempty"`
}

// Prediction is how a container is expected to stop: its outcome
// (graceful, killed or unknown), the cause its termination's summary would
// carry, the advice, the facts it was read from, whether the init process
// is a shell, and how many of its children had run for a while.
type Prediction struct {
	Outcome  string   `json:"outcome"`
	Cause    string   `json:"cause"`
	Advice   string   `json:"advice,omitempty"`
	Facts    []string `json:"facts,omitempty"`
	Shell    bool     `json:"shell,omitempty"`
	Children int32    `json:"children,omitempty"`
}

// TerminationCheckList is a list of TerminationChecks, ordered by
// namespace, workload, pod and container.
type TerminationCheckList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []TerminationCheck `json:"items"`
}
