package timeline

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
)

var t0 = time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)

func at(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(d)) }

func i32(v int32) *int32 { return &v }

func TestRender(t *testing.T) {
	pod := &apiv1.PodRef{Namespace: "shop", Name: "web-1", Uid: "1f2e3d4c-5b6a"}
	main := &apiv1.ContainerRef{Id: "c1", Name: "main"}
	cases := []struct {
		name   string
		events []*apiv1.Event
		want   []string // lines, or parts of lines, in order
	}{
		{
			name: "a pod killed after ignoring SIGTERM reads from the signal to the removal",
			events: []*apiv1.Event{
				{Kind: apiv1.KindContainerStarted, Time: at(-10 * time.Second), Node: "n1", Pod: pod, Container: main, Process: &apiv1.Process{Pid: 4242}},
				{Kind: apiv1.KindSignalGenerated, Time: at(0), Node: "n1", Pod: pod, Container: main,
					Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM", Result: "ignored"}, Sender: &apiv1.Sender{Pid: 4411, Comm: "runc"}, Target: &apiv1.Task{Pid: 1, Tid: 1, Comm: "nginx"}},
				{Kind: apiv1.KindSignalGenerated, Time: at(30 * time.Second), Node: "n1", Pod: pod, Container: main,
					Signal: &apiv1.Signal{Number: 9}, Sender: &apiv1.Sender{Pid: 4470, Comm: "runc"}, Target: &apiv1.Task{Pid: 1, Tid: 1, Comm: "nginx"}},
				{Kind: apiv1.KindContainerExited, Time: at(30*time.Second + 10*time.Millisecond), Node: "n1", Pod: pod, Container: main, ExitCode: i32(137), Reason: "Error"},
				{Kind: apiv1.KindSandboxRemoved, Time: at(31 * time.Second), Node: "n1", Pod: pod},
			},
			want: []string{
				"POD shop/web-1  uid 1f2e3d4c…  node n1",
				"VERDICT killed — main exit=137; SIGKILL was needed; total 31.00s",
				"-10.00s  node  container_started  main pid=4242",
				"+0.000s  node  signal_generated   SIGTERM runc(4411) → main pid 1 (nginx)  result=ignored",
				"+30.00s  node  signal_generated   SIGKILL runc(4470) → main pid 1 (nginx)",
				"+30.01s  node  container_exited   main exit=137 reason=Error",
				"+31.00s  node  sandbox_removed",
			},
		},
		{
			name: "a graceful exit lists the exit codes",
			events: []*apiv1.Event{
				{Kind: apiv1.KindContainerExited, Time: at(0), Node: "n1", Pod: pod, Container: main, ExitCode: i32(0), Reason: "Completed"},
				{Kind: apiv1.KindSandboxStopped, Time: at(time.Second), Node: "n1", Pod: pod},
			},
			want: []string{"VERDICT graceful — every container exited within its grace period, no SIGKILL needed (exit codes main=0); total 1.000s"},
		},
		{
			name: "a stuck pod shows the blocking phase in its verdict",
			events: []*apiv1.Event{
				{Kind: apiv1.KindContainerExited, Time: at(0), Node: "n1", Pod: pod, Container: main, ExitCode: i32(0)},
				{Kind: apiv1.KindStuck, Time: at(time.Minute), Node: "n1", Pod: pod, BlockingPhase: "mounts", Evidence: []string{"/data still mounted"}},
			},
			want: []string{"VERDICT stuck — blocking=mounts /data still mounted; total 60.00s"},
		},
		{
			name:   "a pod with no end yet has no verdict",
			events: []*apiv1.Event{{Kind: apiv1.KindContainerStarted, Time: at(0), Node: "n1", Pod: pod, Container: main}},
			want:   []string{"VERDICT unknown — no end of the termination seen yet"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, tc.events, query.Summarize(tc.events)); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.HasSuffix(line, " ") {
					t.Errorf("line ends in spaces: %q", line)
				}
			}
		})
	}
}
