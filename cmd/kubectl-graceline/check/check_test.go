package check

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name, arg    string
		wantWorkload *apiv1.WorkloadRef
		wantPod      string
		wantErr      string
	}{
		{"A Deployment is named as kubectl names it.", "deploy/web", &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"}, "", ""},
		{"A resource's full name works too, in any case.", "StatefulSets/db", &apiv1.WorkloadRef{Kind: "StatefulSet", Name: "db"}, "", ""},
		{"pod/NAME is a pod.", "pod/web-0", nil, "web-0", ""},
		{"A bare name is a pod.", "web-0", nil, "web-0", ""},
		{"An unknown kind is refused, with the kinds it could be.", "svc/web", nil, "", "svc is not a workload kind"},
		{"A missing name is refused.", "deploy/", nil, "", "want KIND/NAME"},
		{"A name with a slash is refused.", "deploy/a/b", nil, "", "want KIND/NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, pod, err := parseTarget(tt.arg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !proto.Equal(w, tt.wantWorkload) || pod != tt.wantPod {
				t.Errorf("parseTarget(%q) = %v, %q, %v; want %v, %q", tt.arg, w, pod, err, tt.wantWorkload, tt.wantPod)
			}
		})
	}
}

func TestRender(t *testing.T) {
	sh := &apiv1.Process{Pid: 4100, Comm: "sh"}
	cs := []*apiv1.ContainerCheck{
		{Namespace: "shop", Workload: &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"}, Pod: &apiv1.PodRef{Name: "web-1"}, Container: "main",
			Readiness:  &apiv1.Event{Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM"}, Disposition: "default", Processes: []*apiv1.Process{sh, {Pid: 4101, Comm: "sleep"}}},
			Prediction: &apiv1.Prediction{Outcome: apiv1.VerdictKilled, Cause: apiv1.CausePID1NoHandler, Advice: "add a trap", Shell: true, Children: 1},
			Grace:      durationpb.New(30 * time.Second), Terminations: 3, Killed: 3, ShutdownP95: durationpb.New(31 * time.Second)},
		{Namespace: "shop", Pod: &apiv1.PodRef{Name: "lone"}, Container: "app",
			Readiness:  &apiv1.Event{Signal: &apiv1.Signal{Number: 3, Name: "SIGQUIT"}, Disposition: "handler", Processes: []*apiv1.Process{{Pid: 4200, Comm: "nginx"}}},
			Prediction: &apiv1.Prediction{Outcome: apiv1.VerdictGraceful, Cause: apiv1.CauseExitedOnStopSignal, Advice: "nothing to change"}},
	}
	var out bytes.Buffer
	if err := Render(&out, cs); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"NAMESPACE  WORKLOAD        POD    CONTAINER  PID1                     SIGNAL   DISPOSITION  PREDICTED  CAUSE                  P95/GRACE      SIGKILLED\n",
		"shop       Deployment/web  web-1  main       sh[4100] shell, 1 child  SIGTERM  default      killed     pid1_no_handler        31.00s/30.00s  3/3\n",
		"shop       -               lone   app        nginx[4200]              SIGQUIT  handler      graceful   exited_on_stop_signal  -/-            -\n",
		"TRY shop/web-1/main  add a trap\n",
		"1 of 2 containers are predicted to be SIGKILLed on their next stop\n",
	}
	got := out.String()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("check lacks %q; got:\n%s", w, got)
		}
	}
	if strings.Contains(got, "nothing to change") {
		t.Errorf("check gives advice for a graceful container:\n%s", got)
	}
}

func TestRenderWithoutContainersSaysSo(t *testing.T) {
	var out bytes.Buffer
	if err := Render(&out, nil); err != nil || !strings.Contains(out.String(), "no running container") {
		t.Errorf("Render(nil) = %q, %v", out.String(), err)
	}
}
