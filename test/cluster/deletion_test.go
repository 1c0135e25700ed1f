package cluster_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestPodDeletion deletes pods through the API and checks the agent's
// account of what the real kubelet did against the kubelet's own log.
//
// What the kubelet (v1.37.2) was seen to do here:
//   - It passes the pod's grace period to StopContainer unchanged when the
//     container has no preStop hook (3 s → SIGKILL 3 s after SIGTERM).
//   - With an exec preStop hook it runs the hook first, then subtracts the
//     whole seconds the hook took from the grace period and passes the rest
//     (4 s − 1 s = 3 s) to StopContainer, with a floor of 2 s. So the
//     container gets SIGTERM about 1 s after the delete and SIGKILL 3 s
//     later, 4 s after the delete in all: the preStop time comes out of the
//     grace period, it does not extend it.
func TestPodDeletion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		script  string
		grace   int64
		preStop []string
		// The exit the agent must report.
		wantCode   int32
		wantReason string
		// wantStopTimeout is the StopContainer timeout the kubelet must log;
		// 0 means "less than the grace period" (a preStop hook used some).
		wantStopTimeout int64
		// termLogged: the container writes "got TERM" when SIGTERM arrives,
		// so the time from SIGTERM to SIGKILL can be measured.
		termLogged bool
	}{
		{
			name:            "a pod that exits on SIGTERM completes with 0",
			script:          "trap 'echo got TERM; exit 0' TERM; echo started; while :; do sleep 0.1; done",
			grace:           30,
			wantCode:        0,
			wantReason:      apiv1.ReasonCompleted,
			wantStopTimeout: 30,
		},
		{
			name:            "a pod that ignores SIGTERM is killed with 137 when its 3 s grace period runs out",
			script:          "trap '' TERM; echo started; while :; do sleep 0.1; done",
			grace:           3,
			wantCode:        137,
			wantReason:      apiv1.ReasonError,
			wantStopTimeout: 3,
		},
		{
			name:       "a pod with a 1 s preStop hook and grace 4 s is killed when the rest of the grace period runs out",
			script:     "trap 'echo got TERM' TERM; echo started; while :; do sleep 0.1; done",
			grace:      4,
			preStop:    []string{"sleep", "1"},
			wantCode:   137,
			wantReason: apiv1.ReasonError,
			termLogged: true,
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

			var termAt time.Time
			termErr := make(chan error, 1)
			if tc.termLogged {
				go func() {
					var err error
					termAt, err = containerLogLine(pod, "got TERM", goneTimeout)
					termErr <- err
				}()
			}
			sent := deleteAndWaitGone(t, pod)
			events := waitLifecycle(t, pod, sent)

			code, reason, exitedAt := exitOf(t, events)
			if code != tc.wantCode || reason != tc.wantReason {
				t.Errorf("container_exited: code %d reason %q, want %d %q", code, reason, tc.wantCode, tc.wantReason)
			}
			stopTimeout := kubeletGracePeriod(t, containerID(t, events))
			t.Logf("delete sent → container exited: %s; kubelet's StopContainer timeout: %d s (grace %d s)", exitedAt.Sub(sent).Round(time.Millisecond), stopTimeout, tc.grace)
			switch {
			case tc.wantStopTimeout != 0 && stopTimeout != tc.wantStopTimeout:
				t.Errorf("kubelet stopped the container with timeout %d s, want %d s", stopTimeout, tc.wantStopTimeout)
			case tc.wantStopTimeout == 0 && (stopTimeout >= tc.grace || stopTimeout < 2):
				t.Errorf("kubelet stopped the container with timeout %d s, want the grace period %d s less the preStop time, at least 2 s", stopTimeout, tc.grace)
			}
			if tc.wantCode == 137 {
				// SIGKILL cannot come before the grace period has passed.
				if d := exitedAt.Sub(sent); d < time.Duration(tc.grace)*time.Second-100*time.Millisecond {
					t.Errorf("killed %s after the delete request, before the %d s grace period", d, tc.grace)
				}
			}
			if tc.termLogged {
				if err := <-termErr; err != nil {
					t.Fatal(err)
				}
				// SIGTERM → SIGKILL is the StopContainer timeout; the trap runs up
				// to 0.1 s late (after the running sleep), which only shortens it.
				d := exitedAt.Sub(termAt)
				t.Logf("SIGTERM (logged by the container) → exit (agent): %s", d.Round(time.Millisecond))
				want := time.Duration(stopTimeout) * time.Second
				if d < want-time.Second || d > want+2*time.Second {
					t.Errorf("SIGTERM → exit took %s, want about the kubelet's %s timeout", d, want)
				}
			}
		})
	}
}
