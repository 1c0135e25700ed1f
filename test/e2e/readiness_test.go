package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// TestReadiness runs containers of each shape the causes know on real
// runtimes, waits for the agent's termination_readiness of each to
// predict its stop, then deletes the pod and checks that the cause its
// summary gives is the one predicted.
func TestReadiness(t *testing.T) {
	const grace = 3
	cases := []struct {
		name string
		spec harness.PodSpec
		want string
	}{
		{"A shell PID 1 without a trap is predicted to have no handler.", newSpec("rd-notrap", grace, harness.ContainerSpec{Name: "main", Command: shell(noTrap)}), apiv1.CausePID1NoHandler},
		{"trap '' TERM is predicted to ignore the signal.", newSpec("rd-ignores", grace, harness.ContainerSpec{Name: "main", Command: shell(ignoresTerm)}), apiv1.CauseSignalIgnored},
		{"A trap that exits at once, waiting on a background job, is predicted to exit on its signal.", newSpec("rd-exits", grace, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm)}), apiv1.CauseExitedOnStopSignal},
		{"A shell whose trap waits on a foreground worker is predicted to leave it without the signal.", newSpec("rd-noforward", grace, harness.ContainerSpec{Name: "main", Command: shell(noForward)}), apiv1.CauseSignalNotForwarded},
	}
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startSummaryAgent(t, c, "--stuck-slack", "30s")
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					pod, err := d.RunPod(ctx, tc.spec)
					if err != nil {
						t.Fatal(err)
					}
					var last *apiv1.Prediction
					// The first read may come before the script set its
					// trap; the one a few seconds after the start must
					// predict it.
					waitFor(t, 30*time.Second, "termination_readiness predicting "+tc.want, func() bool {
						last = nil
						for _, e := range agent.forPod(tc.spec.UID) {
							if e.Kind == apiv1.KindTerminationReadiness && e.GetContainer().GetName() == "main" {
								last = e.GetPrediction()
							}
						}
						return last.GetCause() == tc.want
					})
					t.Logf("predicted %s (%s): %s\n  %s", last.Cause, last.Outcome, last.Advice, strings.Join(last.Facts, "\n  "))
					if err := d.DeletePod(ctx, pod); err != nil {
						t.Fatal(err)
					}
					summaryOf(t, agent, tc.spec.UID)
					got := causeOf(agent.forPod(tc.spec.UID), "main")
					if got.GetCause() != last.GetCause() {
						t.Errorf("predicted %s, the summary found %s:\n  %s", last.GetCause(), got.GetCause(), strings.Join(got.GetFacts(), "\n  "))
					}
				})
			}
		})
	}
}
