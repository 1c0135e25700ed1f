package format

import (
	"slices"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestCauseLines(t *testing.T) {
	main := &apiv1.ContainerRef{Name: "main"}
	cases := []struct {
		name  string
		cause *apiv1.ContainerCause
		want  []string
	}{
		{"A cause the check predicted shows no miss.",
			&apiv1.ContainerCause{Container: main, Cause: apiv1.CauseSignalIgnored, Advice: "handle it", Predicted: apiv1.CauseSignalIgnored},
			[]string{"CAUSE   main  signal_ignored: the stop signal is ignored", "  TRY   handle it"}},
		{"A cause the check did not predict shows what it predicted.",
			&apiv1.ContainerCause{Container: main, Cause: apiv1.CauseHandlerTooSlow, Advice: "be quicker", Predicted: apiv1.CauseExitedOnStopSignal},
			[]string{"CAUSE   main  handler_too_slow: " + title(apiv1.CauseHandlerTooSlow), "  TRY   be quicker", "  MISS  `kubectl graceline check` predicted exited_on_stop_signal"}},
		{"A container never predicted shows no miss.",
			&apiv1.ContainerCause{Container: main, Cause: apiv1.CauseSignalIgnored},
			[]string{"CAUSE   main  signal_ignored: the stop signal is ignored"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := CauseLines(&apiv1.Event{Causes: []*apiv1.ContainerCause{tc.cause}})
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func title(cause string) string {
	info, _ := apiv1.LookupCause(cause)
	return info.Title
}
