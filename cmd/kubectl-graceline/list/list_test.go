package list

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

var now = time.Date(2026, 11, 26, 20, 5, 0, 0, time.UTC)

func summary(name, verdict string, killed bool, lag *durationpb.Duration) *apiv1.Event {
	return &apiv1.Event{
		Kind: apiv1.KindTerminationSummary, Time: timestamppb.New(now.Add(-2 * time.Minute)), Node: "n1",
		Pod: &apiv1.PodRef{Namespace: "shop", Name: name}, Verdict: verdict, Killed: &killed,
		ExitCodes: map[string]int32{"main": 0}, EndpointLag: lag,
		Phases: []*apiv1.Phase{{Name: "stop_signal", Start: timestamppb.New(now.Add(-3 * time.Minute)), End: timestamppb.New(now.Add(-3*time.Minute + 1500*time.Millisecond))}},
	}
}

// withCauses gives s a cause for each container, cause pair.
func withCauses(s *apiv1.Event, pairs ...string) *apiv1.Event {
	for i := 0; i+1 < len(pairs); i += 2 {
		s.Causes = append(s.Causes, &apiv1.ContainerCause{Container: &apiv1.ContainerRef{Name: pairs[i]}, Cause: pairs[i+1]})
	}
	return s
}

func TestRender(t *testing.T) {
	cases := []struct {
		name      string
		summaries []*apiv1.Event
		want      string
	}{
		{
			name:      "without any endpoint lag there is no column for it",
			summaries: []*apiv1.Event{summary("web-1", apiv1.VerdictGraceful, false, nil)},
			want: `NAMESPACE  POD    NODE  VERDICT   KILLED  DURATION  LAST EVENT  EXIT CODES
shop       web-1  n1    graceful  no      1.500s    2m ago      main=0
`,
		},
		{
			name: "an endpoint lag shows, a negative one marked RISK, and a dash where unknown",
			summaries: []*apiv1.Event{
				summary("web-1", apiv1.VerdictGraceful, false, durationpb.New(5100*time.Millisecond)),
				summary("web-2", apiv1.VerdictGraceful, false, durationpb.New(-800*time.Millisecond)),
				summary("web-3", apiv1.VerdictKilled, true, nil),
			},
			want: `NAMESPACE  POD    NODE  VERDICT   KILLED  DURATION  ENDPOINT LAG  LAST EVENT  EXIT CODES
shop       web-1  n1    graceful  no      1.500s    +5.100s       2m ago      main=0
shop       web-2  n1    graceful  no      1.500s    -0.800s RISK  2m ago      main=0
shop       web-3  n1    killed    yes     1.500s    -             2m ago      main=0
`,
		},
		{
			name: "causes show per container, with a dash for a summary that has none",
			summaries: []*apiv1.Event{
				withCauses(summary("web-1", apiv1.VerdictKilled, true, nil), "main", apiv1.CausePID1NoHandler, "sidecar", apiv1.CauseExitedOnStopSignal),
				summary("web-2", apiv1.VerdictGraceful, false, nil),
			},
			want: `NAMESPACE  POD    NODE  VERDICT   KILLED  DURATION  LAST EVENT  EXIT CODES  CAUSES
shop       web-1  n1    killed    yes     1.500s    2m ago      main=0      main=pid1_no_handler sidecar=exited_on_stop_signal
shop       web-2  n1    graceful  no      1.500s    2m ago      main=0      -
`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, tc.summaries, now); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}
