package store

import apiv1 "github.com/graceline/graceline/api/v1"

// startsTermination tells whether an event of kind shows a pod on its way
// out. A container exit alone does not: containers also exit and restart in
// a pod that lives on. A stopped sandbox, a summary or a stuck report does.
func startsTermination(kind string) bool {
	switch kind {
	case apiv1.KindDeleteRequested, apiv1.KindSandboxStopped, apiv1.KindSandboxRemoved,
		apiv1.KindTerminationSummary, apiv1.KindStuck:
		return true
	}
	return false
}

// endsTermination tells whether an event shows the pod gone: its sandbox
// removed, the pod object deleted, or a summary with a final verdict.
func endsTermination(kind, verdict string) bool {
	switch kind {
	case apiv1.KindSandboxRemoved, apiv1.KindPodDeleted:
		return true
	case apiv1.KindTerminationSummary:
		return verdict != apiv1.VerdictStuck
	}
	return false
}

// reportsStuck tells whether an event says the pod is stuck now.
func reportsStuck(kind, verdict string) bool {
	return kind == apiv1.KindStuck || (kind == apiv1.KindTerminationSummary && verdict == apiv1.VerdictStuck)
}
