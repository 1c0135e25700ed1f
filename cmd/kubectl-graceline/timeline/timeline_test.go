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

func yes(v bool) *bool { return &v }

// cluster is an event of the collector's API watches.
func cluster(kind string, d time.Duration, pod *apiv1.PodRef, mod func(*apiv1.Event)) *apiv1.Event {
	e := &apiv1.Event{Kind: kind, Source: apiv1.SourceAPI, Time: at(d), Node: "n1", Pod: pod}
	if mod != nil {
		mod(e)
	}
	return e
}

func phase(name string, start, end time.Duration) *apiv1.Phase {
	return &apiv1.Phase{Name: name, Start: at(start), End: at(end)}
}

const ms = time.Millisecond

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
					Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM", Result: "ignored"}, Sender: &apiv1.Sender{Pid: 4411, Comm: "runc"}, Target: &apiv1.Task{Pid: 4242, Tid: 4242, Comm: "nginx"}},
				{Kind: apiv1.KindSignalGenerated, Time: at(30 * time.Second), Node: "n1", Pod: pod, Container: main,
					Signal: &apiv1.Signal{Number: 9}, Sender: &apiv1.Sender{Pid: 4470, Comm: "runc"}, Target: &apiv1.Task{Pid: 4242, Tid: 4242, Comm: "nginx"}},
				{Kind: apiv1.KindContainerExited, Time: at(30*time.Second + 10*time.Millisecond), Node: "n1", Pod: pod, Container: main, ExitCode: i32(137), Reason: "Error"},
				{Kind: apiv1.KindSandboxRemoved, Time: at(31 * time.Second), Node: "n1", Pod: pod},
			},
			want: []string{
				"POD shop/web-1  uid 1f2e3d4c…  node n1",
				"VERDICT killed — main exit=137; SIGKILL was needed; total 31.00s",
				"-10.00s  node  container_started  main pid=4242",
				"+0.000s  node  signal_generated   SIGTERM runc(4411) → main pid 4242 (nginx)  result=ignored",
				"+30.00s  node  signal_generated   SIGKILL runc(4470) → main pid 4242 (nginx)",
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
			name: "a killed pod reads from the delete request, with the API rows and the cluster numbers",
			events: []*apiv1.Event{
				cluster(apiv1.KindDeleteRequested, 0, pod, func(e *apiv1.Event) { e.GracePeriodS = i32(30) }),
				cluster(apiv1.KindEndpointNotReady, 41*ms, pod, func(e *apiv1.Event) { e.Service, e.EndpointSlice = "shop/web", "web-abc12" }),
				{Kind: apiv1.KindPreStopExec, Time: at(118 * ms), Node: "n1", Pod: pod, Container: main,
					Process: &apiv1.Process{Pid: 4400, Comm: "sh", Argv: []string{"/bin/sh", "-c", "sleep 5"}}},
				cluster(apiv1.KindEndpointRemoved, 1200*ms, pod, func(e *apiv1.Event) { e.Service = "shop/web" }),
				{Kind: apiv1.KindSignalGenerated, Time: at(5125 * ms), Node: "n1", Pod: pod, Container: main,
					Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM", Result: "ignored"}, Sender: &apiv1.Sender{Pid: 4411, Comm: "runc"}, Target: &apiv1.Task{Pid: 1, Tid: 1, Comm: "nginx"}},
				{Kind: apiv1.KindSignalGenerated, Time: at(30130 * ms), Node: "n1", Pod: pod, Container: main,
					Signal: &apiv1.Signal{Number: 9}, Sender: &apiv1.Sender{Pid: 4470, Comm: "runc"}, Target: &apiv1.Task{Pid: 1, Tid: 1, Comm: "nginx"}},
				{Kind: apiv1.KindContainerExited, Time: at(30150 * ms), Node: "n1", Pod: pod, Container: main, ExitCode: i32(137), Reason: "Error"},
				{Kind: apiv1.KindSandboxStopped, Time: at(30400 * ms), Node: "n1", Pod: pod},
				cluster(apiv1.KindPodDeleted, 30650*ms, pod, nil),
				{Kind: apiv1.KindTerminationSummary, Time: at(31300 * ms), Node: "n1", Pod: pod, GracePeriodS: i32(30), Killed: yes(true),
					Verdict: apiv1.VerdictKilled, ExitCodes: map[string]int32{"main": 137}, Phases: []*apiv1.Phase{
						phase("prestop", 118*ms, 5125*ms), phase("stop_signal", 5125*ms, 30150*ms), phase("sigkill", 30130*ms, 30150*ms),
						phase("sandbox_teardown", 30150*ms, 30400*ms), phase("removal", 31020*ms, 31300*ms)}},
			},
			want: []string{
				"POD shop/web-1  uid 1f2e3d4c…  node n1  grace 30s\n",
				"VERDICT killed — main exit=137; SIGKILL was needed; total 31.30s\n",
				"CLUSTER api→node 0.118s  endpoint lag +5.084s: safe  node→API 0.250s\n",
				"  +0.000s  API   delete_requested     grace=30s finalizers=[]\n",
				"  +0.041s  API   endpoint_not_ready   svc shop/web (slice web-abc12)\n",
				"  +0.118s  node  prestop_exec         main: /bin/sh -c \"sleep 5\"\n",
				"  +1.200s  API   endpoint_removed     svc shop/web\n",
				"  +5.125s  node  signal_generated     SIGTERM runc(4411) → main pid 1 (nginx)  result=ignored\n",
				"  +30.65s  API   pod_deleted\n",
				"  +31.30s  node  termination_summary  verdict=killed",
			},
		},
		{
			name: "a SIGTERM before the endpoints dropped the pod is a traffic risk",
			events: []*apiv1.Event{
				cluster(apiv1.KindDeleteRequested, 0, pod, func(e *apiv1.Event) { e.GracePeriodS = i32(30) }),
				{Kind: apiv1.KindSignalGenerated, Time: at(200 * ms), Node: "n1", Pod: pod, Container: main,
					Signal: &apiv1.Signal{Number: 15}, Sender: &apiv1.Sender{Pid: 4411, Comm: "runc"}, Target: &apiv1.Task{Pid: 1, Tid: 1, Comm: "web"}},
				{Kind: apiv1.KindContainerExited, Time: at(500 * ms), Node: "n1", Pod: pod, Container: main, ExitCode: i32(0), Reason: "Completed"},
				cluster(apiv1.KindEndpointNotReady, time.Second, pod, func(e *apiv1.Event) { e.Service = "shop/web" }),
				{Kind: apiv1.KindSandboxStopped, Time: at(1100 * ms), Node: "n1", Pod: pod},
				cluster(apiv1.KindPodDeleted, 1250*ms, pod, nil),
				{Kind: apiv1.KindTerminationSummary, Time: at(1300 * ms), Node: "n1", Pod: pod, GracePeriodS: i32(30), Killed: yes(false),
					Verdict: apiv1.VerdictGraceful, ExitCodes: map[string]int32{"main": 0}, Phases: []*apiv1.Phase{
						phase("stop_signal", 200*ms, 500*ms), phase("sandbox_teardown", 500*ms, 1100*ms)}},
			},
			want: []string{
				"VERDICT graceful — every container exited within its grace period, no SIGKILL needed (exit codes main=0); total 1.300s\n",
				"CLUSTER api→node 0.200s  endpoint lag -0.800s: TRAFFIC RISK (SIGTERM before the endpoints dropped the pod)  node→API 0.150s\n",
				"  +1.000s  API   endpoint_not_ready   svc shop/web\n",
			},
		},
		{
			name: "a pod held by a finalizer is stuck at finalizers, naming them",
			events: []*apiv1.Event{
				cluster(apiv1.KindDeleteRequested, 0, pod, func(e *apiv1.Event) {
					e.GracePeriodS, e.Finalizers = i32(30), []string{"example.com/hold", "example.com/other"}
				}),
				{Kind: apiv1.KindContainerExited, Time: at(500 * ms), Node: "n1", Pod: pod, Container: main, ExitCode: i32(0), Reason: "Completed"},
				{Kind: apiv1.KindSandboxStopped, Time: at(time.Second), Node: "n1", Pod: pod},
				cluster(apiv1.KindFinalizersChanged, 2*time.Second, pod, func(e *apiv1.Event) { e.Finalizers = []string{"example.com/hold"} }),
				cluster(apiv1.KindStuck, 32*time.Second, pod, func(e *apiv1.Event) {
					e.BlockingPhase, e.Since, e.Finalizers = apiv1.PhaseFinalizers, at(time.Second), []string{"example.com/hold"}
					e.Evidence = []string{"the node finished 31s ago, but the object is held by finalizers: example.com/hold; whatever owns them has not removed them"}
				}),
			},
			want: []string{
				"VERDICT stuck at finalizers: example.com/hold; total 32.00s\n",
				"  +0.000s  API   delete_requested    grace=30s finalizers=[example.com/hold,example.com/other]\n",
				"  +2.000s  API   finalizers_changed  finalizers=[example.com/hold]\n",
				"  +32.00s  API   stuck               blocking=finalizers finalizers=[example.com/hold]\n",
			},
		},
		{
			name: "a pod its node never acted on is stuck at node, with the collector's evidence",
			events: []*apiv1.Event{
				cluster(apiv1.KindDeleteRequested, 0, pod, func(e *apiv1.Event) { e.GracePeriodS = i32(30) }),
				cluster(apiv1.KindStuck, 45*time.Second, pod, func(e *apiv1.Event) {
					e.BlockingPhase, e.Since = apiv1.PhaseNode, at(0)
					e.Evidence = []string{"nothing from node n1 about this pod since the delete request 45s ago", "node n1 Ready=Unknown (NodeStatusUnknown)"}
				}),
			},
			want: []string{
				"VERDICT stuck at node: nothing from node n1 about this pod since the delete request 45s ago; total 45.00s\n",
				"  +45.00s  API  stuck             blocking=node nothing from node n1 about this pod since the delete request 45s ago\n",
			},
		},
		{
			name: "a pod deleted while the collector was away says its time is approximate",
			events: []*apiv1.Event{
				{Kind: apiv1.KindContainerExited, Time: at(0), Node: "n1", Pod: pod, Container: main, ExitCode: i32(0)},
				{Kind: apiv1.KindSandboxStopped, Time: at(time.Second), Node: "n1", Pod: pod},
				cluster(apiv1.KindPodDeleted, 5*time.Second, pod, func(e *apiv1.Event) {
					e.Reason = "deleted while the collector was not watching; the time is when it noticed"
				}),
			},
			want: []string{"  +5.000s  API   pod_deleted       (deleted while the collector was not watching; the time is when it noticed)\n"},
		},
		{
			name: "a stuck pod shows the blocking phase in its verdict",
			events: []*apiv1.Event{
				{Kind: apiv1.KindContainerExited, Time: at(0), Node: "n1", Pod: pod, Container: main, ExitCode: i32(0)},
				{Kind: apiv1.KindStuck, Time: at(time.Minute), Node: "n1", Pod: pod, BlockingPhase: "mounts", Evidence: []string{"/data still mounted"}},
			},
			want: []string{"VERDICT stuck at mounts: /data still mounted; total 60.00s"},
		},
		{
			name: "each container's cause and advice come under the verdict, read from the agent's inspection at the stop",
			events: []*apiv1.Event{
				{Kind: apiv1.KindContainerStarted, Time: at(-10 * time.Second), Node: "n1", Pod: pod, Container: main, Process: &apiv1.Process{Pid: 4242}},
				{Kind: apiv1.KindSignalGenerated, Time: at(0), Node: "n1", Pod: pod, Container: main,
					Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM", Result: "ignored"}, Sender: &apiv1.Sender{Pid: 4411, Comm: "runc"}, Target: &apiv1.Task{Pid: 4242, Tid: 4242, Comm: "nginx"}},
				{Kind: apiv1.KindContainerInspected, Time: at(2 * ms), Node: "n1", Pod: pod, Container: main, Frozen: yes(false),
					Processes: []*apiv1.Process{{Pid: 4242, Comm: "nginx", SigCaught: []string{"SIGCHLD"}}}},
				{Kind: apiv1.KindSignalGenerated, Time: at(30 * time.Second), Node: "n1", Pod: pod, Container: main,
					Signal: &apiv1.Signal{Number: 9}, Sender: &apiv1.Sender{Pid: 4470, Comm: "runc"}, Target: &apiv1.Task{Pid: 4242, Tid: 4242, Comm: "nginx"}},
				{Kind: apiv1.KindContainerExited, Time: at(30*time.Second + 10*time.Millisecond), Node: "n1", Pod: pod, Container: main, ExitCode: i32(137), Reason: "Error"},
				{Kind: apiv1.KindSandboxRemoved, Time: at(31 * time.Second), Node: "n1", Pod: pod},
			},
			want: []string{
				"VERDICT killed — main exit=137; SIGKILL was needed; total 31.00s\n",
				"CAUSE   main  pid1_no_handler: PID 1 has no handler for the stop signal, so the kernel dropped it\n",
				"  TRY   nginx (pid 4242) runs as PID 1 without a SIGTERM handler, so the kernel drops the signal: handle SIGTERM, exec the worker",
				"+0.002s  node  container_inspected  main pid 4242 (nginx) ignored=- caught=CHLD blocked=-\n",
				"+31.00s  node  sandbox_removed",
			},
		},
		{
			name: "an unknown cause lists the facts that were seen",
			events: []*apiv1.Event{
				{Kind: apiv1.KindContainerStarted, Time: at(-10 * time.Second), Node: "n1", Pod: pod, Container: main, Process: &apiv1.Process{Pid: 4242}},
				{Kind: apiv1.KindSignalGenerated, Time: at(0), Node: "n1", Pod: pod, Container: main,
					Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM", Result: "ignored"}, Sender: &apiv1.Sender{Pid: 4411, Comm: "runc"}, Target: &apiv1.Task{Pid: 4242, Tid: 4242, Comm: "nginx"}},
				{Kind: apiv1.KindSignalGenerated, Time: at(30 * time.Second), Node: "n1", Pod: pod, Container: main,
					Signal: &apiv1.Signal{Number: 9}, Sender: &apiv1.Sender{Pid: 4470, Comm: "runc"}, Target: &apiv1.Task{Pid: 4242, Tid: 4242, Comm: "nginx"}},
				{Kind: apiv1.KindContainerExited, Time: at(30*time.Second + 10*time.Millisecond), Node: "n1", Pod: pod, Container: main, ExitCode: i32(137), Reason: "Error"},
				{Kind: apiv1.KindSandboxRemoved, Time: at(31 * time.Second), Node: "n1", Pod: pod},
			},
			want: []string{
				"CAUSE   main  unknown: the evidence does not decide\n",
				"  FACT  - stop signal SIGTERM from runc (pid 4411) to nginx (pid 4242): result ignored\n",
				"  FACT  - its processes were not read at the stop\n",
				"  TRY   the events do not decide why",
			},
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
			if err := Render(&b, tc.events, query.Summarize(tc.events), true); err != nil {
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

func TestHeaderNamesTheWorkloadAndWhoStartedTheTermination(t *testing.T) {
	pod := &apiv1.PodRef{Namespace: "shop", Name: "web-1", Uid: "1f2e3d4c-5b6a"}
	events := []*apiv1.Event{
		cluster(apiv1.KindDeleteRequested, 0, pod, func(e *apiv1.Event) {
			e.GracePeriodS, e.Initiator, e.Workload = i32(30), apiv1.InitiatorEviction, &apiv1.WorkloadRef{Kind: "Deployment", Name: "web"}
		}),
		{Kind: apiv1.KindContainerExited, Time: at(500 * ms), Node: "n1", Pod: pod, ExitCode: i32(0)},
		cluster(apiv1.KindPodDeleted, time.Second, pod, nil),
	}
	var out bytes.Buffer
	if err := Render(&out, events, query.Summarize(events), false); err != nil {
		t.Fatal(err)
	}
	want := "POD shop/web-1  uid 1f2e3d4c…  node n1  grace 30s  workload Deployment/web  initiator eviction_api (evicted through the Eviction API: kubectl drain, an autoscaler)\n"
	if first, _, _ := strings.Cut(out.String(), "\n"); first+"\n" != want {
		t.Errorf("header = %q, want %q", first, want)
	}
}
