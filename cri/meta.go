package cri

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// The labels and annotations the kubelet puts on sandboxes and containers
// (pkg/kubelet/types and pkg/kubelet/kuberuntime/labels.go).
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"

	AnnotationTerminationGracePeriod = "io.kubernetes.pod.terminationGracePeriod"
	AnnotationDeletionGracePeriod    = "io.kubernetes.pod.deletionGracePeriod"
	AnnotationPreStopHandler         = "io.kubernetes.container.preStopHandler"
	AnnotationRestartCount           = "io.kubernetes.container.restartCount"
	AnnotationContainerHash          = "io.kubernetes.container.hash"
)

// Container types. The kubelet sets no type label; the type follows from
// whether CRI lists the object as a sandbox or as a container.
const (
	TypeSandbox   = "sandbox"
	TypeContainer = "container"
)

// Meta is what the kubelet told the runtime about a sandbox or container, in
// typed form. A value the kubelet did not set, or set to something that does
// not parse, is left at its zero value and reported through Warnings.
type Meta struct {
	PodNamespace  string
	PodName       string
	PodUID        string
	ContainerName string
	Type          string

	// GracePeriod is the deletion grace period in seconds when the pod was
	// being deleted at container creation, else the spec's termination grace
	// period; -1 when neither is known.
	GracePeriod  int64
	PreStop      *PreStopHandler
	RestartCount int
}

// PreStopHandler is what the agent reads of the kubelet's preStop handler
// annotation, a core/v1 LifecycleHandler in JSON: an exec hook's command.
// The other handlers (httpGet, tcpSocket, sleep) run in the kubelet and
// start no process in the container to follow. Decoding into this rather
// than the API's type keeps k8s.io/api, and megabytes of binary and of
// resident pages, out of the agent.
type PreStopHandler struct {
	Exec *ExecAction `json:"exec,omitempty"`
}

// ExecAction is an exec hook: the command run in the container.
type ExecAction struct {
	Command []string `json:"command,omitempty"`
}

// Warning is a label or annotation that could not be understood.
type Warning struct {
	Key   string
	Value string
	Err   error
}

func (w Warning) Error() string {
	return fmt.Sprintf("annotation %s=%q: %v", w.Key, w.Value, w.Err)
}

// ParseSandboxMeta reads a sandbox's labels.
func ParseSandboxMeta(labels map[string]string) (Meta, []Warning) {
	m := Meta{Type: TypeSandbox, GracePeriod: -1}
	var ws []Warning
	m.PodNamespace, m.PodName, m.PodUID, ws = podIdentity(labels, ws)
	return m, ws
}

// ParseContainerMeta reads a container's labels and annotations.
func ParseContainerMeta(labels, annotations map[string]string) (Meta, []Warning) {
	m := Meta{Type: TypeContainer, GracePeriod: -1}
	var ws []Warning
	m.PodNamespace, m.PodName, m.PodUID, ws = podIdentity(labels, ws)
	m.ContainerName = labels[LabelContainerName]
	if m.ContainerName == "" {
		ws = append(ws, Warning{Key: LabelContainerName, Err: errMissing})
	}

	for _, key := range []string{AnnotationDeletionGracePeriod, AnnotationTerminationGracePeriod} {
		v, ok := annotations[key]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil && n < 0 {
			err = fmt.Errorf("negative grace period")
		}
		if err != nil {
			ws = append(ws, Warning{Key: key, Value: v, Err: err})
			continue
		}
		m.GracePeriod = n
		break
	}

	if v, ok := annotations[AnnotationPreStopHandler]; ok {
		var h PreStopHandler
		if err := json.Unmarshal([]byte(v), &h); err != nil {
			ws = append(ws, Warning{Key: AnnotationPreStopHandler, Value: truncate(v), Err: err})
		} else {
			m.PreStop = &h
		}
	}

	if v, ok := annotations[AnnotationRestartCount]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			if err == nil {
				err = fmt.Errorf("negative restart count")
			}
			ws = append(ws, Warning{Key: AnnotationRestartCount, Value: v, Err: err})
		} else {
			m.RestartCount = n
		}
	}
	return m, ws
}

var errMissing = fmt.Errorf("missing")

func podIdentity(labels map[string]string, ws []Warning) (ns, name, uid string, _ []Warning) {
	ns, name, uid = labels[LabelPodNamespace], labels[LabelPodName], labels[LabelPodUID]
	for _, kv := range [...][2]string{{LabelPodNamespace, ns}, {LabelPodName, name}, {LabelPodUID, uid}} {
		if kv[1] == "" {
			ws = append(ws, Warning{Key: kv[0], Err: errMissing})
		}
	}
	return ns, name, uid, ws
}

// truncate bounds a value quoted in a log line, since annotations can be large.
func truncate(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
