package cluster_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestPodDeletion deletes pods through the API and checks the agent's
// account of what the real kubelet did against the kubelet's own log, which
// names the timeout it passed to the runtime's StopContainer.
//
// What the kubelet (v1.37.2) did here:
//   - Without a preStop hook it passes the pod's grace period to
//     StopContainer unchanged: a container that ignores SIGTERM with grace
//     3 s gets SIGKILL 3 s after SIGTERM.
//   - With an exec preStop hook it runs the hook first, then subtracts the
//     whole seconds the hook took from the grace period and passes the rest
//     to StopContainer, with a floor of 2 s: grace 4 s with `sleep 1` gives
//     a 3 s timeout. SIGTERM comes about 1 s after the delete and SIGKILL 3 s
//     later, 4 s after the delete in all: the preStop time comes out of the
//     grace period, it does not extend it.
func TestPodDeletion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		script  string
		grace   int64
		preStop []string
		// The exit and verdict the agent must report.
		wantCode    int32
		wantReason  string
		wantVerdict string
		// wantStopTimeout is the StopContainer timeout the kubelet must log;
		// 0 means "less than the grace period" (a preStop hook used some).
		wantStopTimeout int64
	}{
		{
			name:            "a pod that exits on SIGTERM completes with 0",
			script:          exitsOnTerm,
			grace:           30,
			wantCode:        0,
			wantReason:      apiv1.ReasonCompleted,
			wantVerdict:     "graceful",
			wantStopTimeout: 30,
		},
		{
			name:            "a pod that ignores SIGTERM is killed with 137 when its 3 s grace period runs out",
			script:          ignoresTerm,
			grace:           3,
			wantCode:        137,
			wantReason:      apiv1.ReasonError,
			wantVerdict:     "killed",
			wantStopTimeout: 3,
		},
		{
			name:        "a pod with a 1 s preStop hook and grace 4 s is killed when the rest of the grace period runs out",
			script:      ignoresTerm,
			grace:       4,
			preStop:     []string{"sleep", "1"},
			wantCode:    137,
			wantReason:  apiv1.ReasonError,
			wantVerdict: "killed",
		},
	}
	ns := newNamespace(t, "deletion")
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := busyboxPod(ns, "pod-"+string(rune('a'+i)), tc.script, tc.grace)
			if tc.preStop != nil {
				pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: tc.preStop}}}
			}
			pod = createRunning(t, pod)
			sent := deleteAndWaitGone(t, pod)
			events := waitLifecycle(t, pod, sent)

			code, reason, exitedAt := exitOf(t, events)
			if code != tc.wantCode || reason != tc.wantReason {
				t.Errorf("container_exited: code %d reason %q, want %d %q", code, reason, tc.wantCode, tc.wantReason)
			}
			if tc.wantCode == 137 {
				// SIGKILL cannot come before the grace period has passed.
				if d := exitedAt.Sub(sent); d < time.Duration(tc.grace)*time.Second-100*time.Millisecond {
					t.Errorf("killed %s after the delete request, before the %d s grace period", d, tc.grace)
				}
			}

			// The kubelet's own word on the StopContainer timeout.
			stopTimeout := kubeletGracePeriod(t, containerID(t, events))
			t.Logf("delete sent → container exited: %s; kubelet's StopContainer timeout: %d s (grace %d s)", exitedAt.Sub(sent).Round(time.Millisecond), stopTimeout, tc.grace)
			switch {
			case tc.wantStopTimeout != 0 && stopTimeout != tc.wantStopTimeout:
				t.Errorf("kubelet stopped the container with timeout %d s, want %d s", stopTimeout, tc.wantStopTimeout)
			case tc.wantStopTimeout == 0 && (stopTimeout >= tc.grace || stopTimeout < 2):
				t.Errorf("kubelet stopped the container with timeout %d s, want the grace period %d s less the preStop time, at least 2 s", stopTimeout, tc.grace)
			}

			// The agent's kernel events must tell the same story: SIGTERM from
			// the runtime to the container's PID 1, then SIGKILL when the
			// kubelet's timeout ran out.
			pid := find(events, apiv1.KindContainerStarted).GetProcess().GetPid()
			term := findWhere(events, apiv1.KindSignalGenerated, signalTo(pid, "SIGTERM"))
			if term == nil {
				t.Fatalf("agent saw no SIGTERM to the container's pid %d", pid)
			}
			if kill := findWhere(events, apiv1.KindSignalGenerated, signalTo(pid, "SIGKILL")); tc.wantCode == 137 {
				if kill == nil {
					t.Fatalf("agent saw no SIGKILL to the container's pid %d", pid)
				}
				d, want := kill.Time.AsTime().Sub(term.Time.AsTime()), time.Duration(stopTimeout)*time.Second
				t.Logf("agent: SIGTERM → SIGKILL %s", d.Round(time.Millisecond))
				if d < want-200*time.Millisecond || d > want+2*time.Second {
					t.Errorf("agent: SIGTERM → SIGKILL took %s, want the kubelet's %s timeout", d, want)
				}
			}
			if tc.preStop != nil {
				pre := find(events, apiv1.KindPreStopExec)
				if pre == nil || strings.Join(pre.Process.GetArgv(), " ") != strings.Join(tc.preStop, " ") {
					t.Fatalf("agent: prestop_exec %v, want argv %v", pre, tc.preStop)
				}
				if gap := term.Time.AsTime().Sub(pre.Time.AsTime()); gap < 900*time.Millisecond {
					t.Errorf("agent: SIGTERM came %s after prestop_exec, want after the hook's 1 s", gap)
				}
			}

			s := summaryOf(t, pod)
			if s.Verdict != tc.wantVerdict || s.GetGracePeriodS() != int32(tc.grace) || s.ExitCodes["main"] != tc.wantCode {
				t.Errorf("termination_summary: verdict %q grace %d s exit codes %v, want %q %d s main=%d", s.Verdict, s.GetGracePeriodS(), s.ExitCodes, tc.wantVerdict, tc.grace, tc.wantCode)
			}
			if tc.preStop != nil {
				pre, stop := phaseOf(s, "prestop"), phaseOf(s, "stop_signal")
				if pre == nil || stop == nil {
					t.Fatalf("termination_summary phases %v lack prestop or stop_signal", s.Phases)
				}
				if d := pre.End.AsTime().Sub(pre.Start.AsTime()); d < 900*time.Millisecond || pre.End.AsTime().After(stop.Start.AsTime()) {
					t.Errorf("prestop phase %s..%s (%s), stop_signal from %s: want about the hook's 1 s, ending before", pre.Start.AsTime(), pre.End.AsTime(), d, stop.Start.AsTime())
				}
			}
		})
	}
}

func phaseOf(e *apiv1.Event, name string) *apiv1.Phase {
	for _, p := range e.GetPhases() {
		if p.Name == name {
			return p
		}
	}
	return nil
}
