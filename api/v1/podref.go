package apiv1

// NewPodRef is the one way a source turns what it knows of a pod (from the
// kubelet's labels, or a CNI plugin's arguments) into an event's pod
// reference. It returns nil when nothing is known, so that an event about no
// pod carries no reference. A partial reference keeps what is known: a name
// without a UID still tells a reader which pod it was, while the consumers
// that need the UID (the store's pod rows, the agent's correlator) skip a
// reference without one.
func NewPodRef(namespace, name, uid string) *PodRef {
	if namespace == "" && name == "" && uid == "" {
		return nil
	}
	return &PodRef{Namespace: namespace, Name: name, Uid: uid}
}
