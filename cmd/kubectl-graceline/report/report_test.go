package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestRender(t *testing.T) {
	reports := []*apiv1.WorkloadReport{
		{Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"}, Terminations: 4, Finished: 3, Killed: 1, TrafficRisk: 2, Stuck: 1,
			DurationP50: durationpb.New(1500 * time.Millisecond), DurationP95: durationpb.New(3 * time.Second),
			Cause: apiv1.CauseSignalIgnored, CauseCount: 1, Advice: "sh (pid 1) ignores SIGTERM: handle it",
			Initiators: map[string]int64{apiv1.InitiatorRollout: 3, apiv1.InitiatorAPIDelete: 1}},
		{Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "StatefulSet", Name: "db"}, Terminations: 1, Stuck: 1},
	}
	var out bytes.Buffer
	if err := Render(&out, reports); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"NAMESPACE  WORKLOAD        TERMINATIONS  KILLED  P50     P95     RISK  STUCK  CAUSE               INITIATORS\n",
		"shop       Deployment/web  4             33%     1.500s  3.000s  67%   1      signal_ignored (1)  rollout=3 api_delete=1\n",
		"shop       StatefulSet/db  1             -       -       -       -     1      -                   -\n",
		"TRY shop/Deployment/web  sh (pid 1) ignores SIGTERM: handle it\n",
	}
	got := out.String()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("report lacks %q; got:\n%s", w, got)
		}
	}
}

func TestRenderWithoutWorkloadsSaysSo(t *testing.T) {
	var out bytes.Buffer
	if err := Render(&out, nil); err != nil || !strings.Contains(out.String(), "no terminations") {
		t.Errorf("Render(nil) = %q, %v", out.String(), err)
	}
}
