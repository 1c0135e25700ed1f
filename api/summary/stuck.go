package summary

import (
	"fmt"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Blocker is one thing found holding an unfinished termination: a stuck
// cause (api/v1's stuck.go), the container it concerns ("" for the whole
// pod), what to act on, and the facts it was read from.
type Blocker struct {
	Cause     string
	Container string
	// What names the thing to act on as the facts do: the process that
	// keeps a volume busy, the shim, the plugin's error, the finalizers.
	What  string
	Facts []string
}

// StuckCause is the blocker as a stuck report carries it, with the one
// thing to do about it.
func (b Blocker) StuckCause() *apiv1.ContainerCause {
	c := &apiv1.ContainerCause{Cause: b.Cause, Advice: b.advice(), Facts: b.Facts}
	if b.Container != "" {
		c.Container = &apiv1.ContainerRef{Name: b.Container}
	}
	return c
}

// advice is the action that frees the termination, naming what to act
// on, in the words of someone woken at night by the stuck alert.
func (b Blocker) advice() string {
	switch b.Cause {
	case apiv1.StuckBusyMount:
		return fmt.Sprintf("%s keeps the pod's volume busy: stop it, or move its working directory and open files out of the volume; the kubelet retries the unmount and the pod goes", b.What)
	case apiv1.StuckCNIDelFailing:
		return fmt.Sprintf("the CNI plugin's DEL fails (%s): fix what it reports (its configuration, its daemon, its IP allocation store); the runtime retries the sandbox's stop", b.What)
	case apiv1.StuckShimStopped:
		return fmt.Sprintf("%s cannot act: if something stopped it (kill -STOP, a debugger), resume it with kill -CONT; if it is in D state, its kernel stack (/proc/<pid>/stack) shows what it waits on", b.What)
	case apiv1.StuckRuntimeNotAnswering:
		return fmt.Sprintf("the container runtime fails CRI calls (%s): check that it runs and answers (crictl info) and read its logs; the kubelet retries once it does", b.What)
	case apiv1.StuckCgroupFrozen:
		return fmt.Sprintf("container %s's cgroup is frozen, so not even SIGKILL acts: thaw it (crictl or ctr resume for a paused container; cgroup.freeze or freezer.state otherwise) and find what froze it", b.Container)
	case apiv1.StuckUninterruptible:
		return fmt.Sprintf("%s waits in the kernel, where not even SIGKILL reaches it, most often on I/O to a hung network filesystem or a failing disk: bring that storage back, or force its unmount (umount -f)", b.What)
	case apiv1.StuckFinalizers:
		return fmt.Sprintf("finalizers %s hold the object: find the controller that owns each and why it has not finished; remove one by hand (kubectl patch) only once you know", b.What)
	case apiv1.StuckNodeSilent:
		return fmt.Sprintf("the kubelet on node %s has not confirmed the deletion: check that it runs and reaches the API server (kubectl get node, its logs)", b.What)
	}
	return "nothing found names a cause: read the evidence, then the kubelet's and the runtime's logs for this pod"
}

// StuckPhase is the phase a stuck report names as blocking: the one its
// causes block when a cause decides it (a volume that cannot be unmounted
// blocks the release of resources, whatever else is left), otherwise
// phase, where the termination stands.
func StuckPhase(phase string, causes []*apiv1.ContainerCause) string {
	for _, c := range causes {
		if info, ok := apiv1.LookupStuckCause(c.GetCause()); ok && info.Phase != "" {
			return info.Phase
		}
	}
	return phase
}
