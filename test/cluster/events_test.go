package cluster_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// exitOf returns the agent's container_exited code and reason.
func exitOf(t *testing.T, events []*apiv1.Event) (int32, string, time.Time) {
	t.Helper()
	e := find(events, apiv1.KindContainerExited)
	if e == nil || e.ExitCode == nil || e.ExitedAt == nil {
		t.Fatalf("no container_exited with exit code and time in %v", kinds(events))
	}
	return *e.ExitCode, e.Reason, e.ExitedAt.AsTime()
}

// summaryOf waits for the agent's termination_summary of the pod, which it
// emits shortly after the sandbox is removed.
func summaryOf(t *testing.T, pod *corev1.Pod) *apiv1.Event {
	t.Helper()
	waitFor(t, time.Minute, "agent: termination_summary of "+pod.Name, func() bool {
		return find(agent.forPod(string(pod.UID)), apiv1.KindTerminationSummary) != nil
	})
	return find(agent.forPod(string(pod.UID)), apiv1.KindTerminationSummary)
}

func containerID(t *testing.T, events []*apiv1.Event) string {
	t.Helper()
	e := find(events, apiv1.KindContainerStarted)
	if e == nil || e.Container.GetId() == "" {
		t.Fatalf("no container_started with a container id in %v", kinds(events))
	}
	return e.Container.GetId()
}

// lifecycle keeps the kinds of fullSequence, in order, dropping the
// kernel's and the release watchers' events.
func lifecycle(events []*apiv1.Event) []string {
	var out []string
	for _, e := range events {
		if slices.Contains(fullSequence, e.Kind) {
			out = append(out, e.Kind)
		}
	}
	return out
}

// timeline renders events one a line, relative to since, for the test log.
func timeline(events []*apiv1.Event, since time.Time) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n  %+9.3fs  %-20s", e.Time.AsTime().Sub(since).Seconds(), e.Kind)
		switch {
		case e.Kind == apiv1.KindSignalGenerated:
			fmt.Fprintf(&b, " %s %s(%d) -> %d (%s) %s", e.Signal.GetName(), e.Sender.GetComm(), e.Sender.GetPid(), e.Target.GetPid(), e.Target.GetComm(), e.Signal.GetResult())
		case e.Kind == apiv1.KindSignalDelivered:
			fmt.Fprintf(&b, " %s to %d (%s) %s", e.Signal.GetName(), e.Target.GetPid(), e.Target.GetComm(), e.Disposition)
		case e.Kind == apiv1.KindProcessExited:
			fmt.Fprintf(&b, " %d (%s) exit=%d signal=%d", e.Process.GetPid(), e.Process.GetComm(), e.GetExitCode(), e.GetExitSignal())
		case e.Kind == apiv1.KindPreStopExec || e.Kind == apiv1.KindExec:
			fmt.Fprintf(&b, " %v", e.Process.GetArgv())
		case e.ExitCode != nil:
			fmt.Fprintf(&b, " exit=%d %s", *e.ExitCode, e.Reason)
		case e.Path != "":
			fmt.Fprintf(&b, " %s", e.Path)
		case e.Kind == apiv1.KindStuck:
			fmt.Fprintf(&b, " blocking=%s evidence=%q", e.BlockingPhase, e.Evidence)
		case e.Kind == apiv1.KindTerminationSummary:
			fmt.Fprintf(&b, " verdict=%s killed=%v grace=%ds", e.Verdict, e.GetKilled(), e.GetGracePeriodS())
		}
	}
	return b.String()
}

// findWhere returns the first event of the kind for which ok holds.
func findWhere(events []*apiv1.Event, kind string, ok func(*apiv1.Event) bool) *apiv1.Event {
	for _, e := range events {
		if e.Kind == kind && ok(e) {
			return e
		}
	}
	return nil
}

// signalTo matches a signal_generated to the process with the host pid.
func signalTo(pid int32, name string) func(*apiv1.Event) bool {
	return func(e *apiv1.Event) bool { return e.GetSignal().GetName() == name && e.GetTarget().GetPid() == pid }
}

func kinds(events []*apiv1.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Kind)
	}
	return out
}

func find(events []*apiv1.Event, kind string) *apiv1.Event {
	for _, e := range events {
		if e.Kind == kind {
			return e
		}
	}
	return nil
}
