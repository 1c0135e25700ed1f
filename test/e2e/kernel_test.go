package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// findWhere returns the first event of kind that satisfies ok.
func findWhere(events []*apiv1.Event, kind string, ok func(*apiv1.Event) bool) *apiv1.Event {
	for _, e := range events {
		if e.Kind == kind && ok(e) {
			return e
		}
	}
	return nil
}

func signalTo(pid int32, name string) func(*apiv1.Event) bool {
	return func(e *apiv1.Event) bool { return e.GetSignal().GetName() == name && e.GetTarget().GetPid() == pid }
}

func isRuntime(comm string) bool {
	return strings.HasPrefix(comm, "runc") || strings.HasPrefix(comm, "containerd-shim")
}

// TestKernelSignalsInContainer: a container ignoring SIGTERM, stopped with
// grace 2 s, gets SIGTERM then SIGKILL from the runtime, and its PID 1 dies
// of signal 9; all attributed to the target container, not the sender.
func TestKernelSignalsInContainer(t *testing.T) {
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startAgent(t, "--cri-endpoint", c.Endpoint())
			agent.waitLog(t, 30*time.Second, "msg=sources")
			if !strings.Contains(agent.logs(), "live=cri_relist") || !strings.Contains(agent.logs(), ",ebpf") {
				t.Fatalf("eBPF source not live:\n%s", agent.logs())
			}
			spec := harness.PodSpec{Namespace: "e2e", Name: "stubborn", UID: fmt.Sprintf("stubborn-%s-%d", f, time.Now().UnixNano()), GracePeriod: 2,
				Containers: []harness.ContainerSpec{{Name: "main", Command: []string{"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"}}}}
			pod, events := runAndDelete(t, d, agent, spec)
			started := find(events, apiv1.KindContainerStarted)
			pid := started.GetProcess().GetPid()

			term := findWhere(events, apiv1.KindSignalGenerated, signalTo(pid, "SIGTERM"))
			kill := findWhere(events, apiv1.KindSignalGenerated, signalTo(pid, "SIGKILL"))
			exit := findWhere(events, apiv1.KindProcessExited, func(e *apiv1.Event) bool { return e.GetProcess().GetPid() == pid })
			if term == nil || kill == nil || exit == nil {
				t.Fatalf("missing kernel events for pid %d: SIGTERM %v, SIGKILL %v, exit %v; all: %v", pid, term != nil, kill != nil, exit != nil, kinds(events))
			}
			for _, e := range []*apiv1.Event{term, kill, exit} {
				if e.Container.GetId() != pod.Containers["main"] || e.Pod.GetUid() != spec.UID {
					t.Errorf("%s attributed to %v/%v, want container %s of pod %s", e.Kind, e.Pod, e.Container, pod.Containers["main"], spec.UID)
				}
			}
			if !isRuntime(term.Sender.GetComm()) || term.Sender.GetContainerId() != "" {
				t.Errorf("SIGTERM sender = %v, want the runtime (runc or shim) on the host", term.Sender)
			}
			if term.Signal.Result != "ignored" {
				t.Errorf("SIGTERM result = %q, want ignored (the container traps it with '')", term.Signal.Result)
			}
			gap := kill.Time.AsTime().Sub(term.Time.AsTime())
			if gap < 1500*time.Millisecond || gap > 10*time.Second {
				t.Errorf("SIGKILL came %s after SIGTERM, want about the 2 s grace period", gap)
			}
			if exit.GetExitSignal() != 9 || exit.Time.AsTime().Before(kill.Time.AsTime()) {
				t.Errorf("process_exited = signal %d at %s, want signal 9 after SIGKILL at %s", exit.GetExitSignal(), exit.Time.AsTime(), kill.Time.AsTime())
			}
		})
	}
}

// TestLateListingKeepsFirstEvents: where the agent learns of started
// containers from listings alone, a listing can come well after a
// container's init exec'ed, later than the attribution window; on a busy
// node its handling can too. The init's exec is still the pod's: it waits
// for a listing begun a window after it. With a listing every 5 s and a
// 2 s window, most of these inits would otherwise go out without a pod.
func TestLateListingKeepsFirstEvents(t *testing.T) {
	const pods = 4
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startAgent(t, "--cri-endpoint", c.Endpoint(), "--disable-event-stream", "--relist-period", "5s", "--ebpf-attribution-window", "2s")
			agent.waitLog(t, 30*time.Second, "msg=sources")
			specs := make([]harness.PodSpec, pods)
			for i := range specs {
				specs[i] = newSpec(fmt.Sprintf("late-%d", i), 3, harness.ContainerSpec{Name: "main", Command: shell("trap 'exit 0' TERM; while true; do sleep 1; done")})
				pod, err := d.RunPod(context.Background(), specs[i])
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.DeletePod(context.Background(), pod) })
				// Starts spread over a listing period, so that some come
				// just after a listing began.
				time.Sleep(time.Second)
			}
			for _, s := range specs {
				waitStarted(t, agent, s)
				waitInitExec(t, agent, s)
			}
		})
	}
}

// TestPreStopExec: the driver runs the preStop hook through ExecSync, which
// the kernel sees as an exec entering the container, before SIGTERM.
func TestPreStopExec(t *testing.T) {
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startAgent(t, "--cri-endpoint", c.Endpoint())
			agent.waitLog(t, 30*time.Second, "msg=sources")
			spec := harness.PodSpec{Namespace: "e2e", Name: "prestop", UID: fmt.Sprintf("prestop-%s-%d", f, time.Now().UnixNano()), GracePeriod: 4,
				Containers: []harness.ContainerSpec{{Name: "main", Command: []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"},
					PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"sleep", "1"}}}}}}
			pod, events := runAndDelete(t, d, agent, spec)
			pid := find(events, apiv1.KindContainerStarted).GetProcess().GetPid()
			pre := find(events, apiv1.KindPreStopExec)
			term := findWhere(events, apiv1.KindSignalGenerated, signalTo(pid, "SIGTERM"))
			if pre == nil || term == nil {
				t.Fatalf("prestop_exec %v, SIGTERM %v; events: %v", pre != nil, term != nil, kinds(events))
			}
			if pre.Container.GetId() != pod.Containers["main"] || strings.Join(pre.Process.GetArgv(), " ") != "sleep 1" {
				t.Errorf("prestop_exec = %v %v, want container %s argv [sleep 1]", pre.Container, pre.Process, pod.Containers["main"])
			}
			if gap := term.Time.AsTime().Sub(pre.Time.AsTime()); gap < time.Second {
				t.Errorf("SIGTERM came %s after prestop_exec, want at least the hook's 1 s", gap)
			}
		})
	}
}

// TestSignalStorm: one container sends itself a million SIGHUPs. The agent
// stays responsive with bounded memory, counts what it drops, and still
// sees another container's SIGTERM.
func TestSignalStorm(t *testing.T) {
	c, d := startRuntime(t, harness.Containerd2)
	metrics := freeAddr(t)
	agent := startAgent(t, "--cri-endpoint", c.Endpoint(), "--metrics-address", metrics)
	agent.waitLog(t, 30*time.Second, "msg=sources")
	ctx := context.Background()

	quiet := harness.PodSpec{Namespace: "e2e", Name: "quiet", UID: fmt.Sprintf("quiet-%d", time.Now().UnixNano()), GracePeriod: 2,
		Containers: []harness.ContainerSpec{{Name: "main", Command: []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"}}}}
	quietPod, err := d.RunPod(ctx, quiet)
	if err != nil {
		t.Fatal(err)
	}
	storm := harness.PodSpec{Namespace: "e2e", Name: "storm", UID: fmt.Sprintf("storm-%d", time.Now().UnixNano()), GracePeriod: 2,
		Containers: []harness.ContainerSpec{{Name: "main", Command: []string{"/bin/storm", "-n", "1000000"}}}}
	stormPod, err := d.RunPod(ctx, storm)
	if err != nil {
		t.Fatal(err)
	}

	// While the storm runs, the agent answers and its memory stays bounded.
	deadline := time.Now().Add(3 * time.Minute)
	var maxRSS int
	for {
		if code := httpStatus(t, "http://"+metrics+"/healthz"); code != 200 {
			t.Fatalf("/healthz = %d during the storm", code)
		}
		maxRSS = max(maxRSS, rssKiB(t, agent.Pid()))
		if stormDone(t, stormPod) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("storm did not finish within 3 minutes")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if maxRSS > 256*1024 {
		t.Errorf("agent RSS reached %d KiB during the storm, want under 256 MiB", maxRSS)
	}
	// The kernel's drop counters are read every few seconds.
	var body string
	counted := func() bool {
		body = httpBody(t, "http://"+metrics+"/metrics")
		return strings.Contains(body, `graceline_events_dropped_total{reason="ebpf_rate_limited"}`) && !strings.Contains(body, `graceline_events_dropped_total{reason="ebpf_rate_limited"} 0`+"\n")
	}
	for deadline := time.Now().Add(30 * time.Second); !counted() && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
	}
	if !counted() {
		t.Errorf("rate-limited drops not counted:\n%s", grepLines(body, "graceline_events_dropped_total"))
	}
	stormEvents := len(agent.forPod(storm.UID))
	if stormEvents > 100000 {
		t.Errorf("%d events from the storming pod, the rate limit did not hold", stormEvents)
	}
	t.Logf("storm: %d events kept of 2,000,000 signal events; agent max RSS %d KiB", stormEvents, maxRSS)

	// The other container's termination is still seen whole.
	if err := d.DeletePod(ctx, quietPod); err != nil {
		t.Fatal(err)
	}
	pid := find(agent.forPod(quiet.UID), apiv1.KindContainerStarted).GetProcess().GetPid()
	waitFor(t, 30*time.Second, "the quiet pod's SIGTERM", func() bool {
		return findWhere(agent.forPod(quiet.UID), apiv1.KindSignalGenerated, signalTo(pid, "SIGTERM")) != nil
	})
	if err := d.DeletePod(ctx, stormPod); err != nil {
		t.Fatal(err)
	}
}

// stormDone reads the storm container's log for its closing line.
func stormDone(t testing.TB, pod *harness.Pod) bool {
	t.Helper()
	b, err := os.ReadFile(pod.LogPath("main"))
	return err == nil && strings.Contains(string(b), "storm done")
}

func rssKiB(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var n int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "%d", &n)
			return n
		}
	}
	return 0
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestNoBPFRights: without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN the agent
// says eBPF is unavailable and runs on CRI alone; --ebpf=false says it is
// disabled.
func TestNoBPFRights(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) not installed: %v", err)
	}
	c, d := startRuntime(t, harness.Containerd16)
	cases := []struct {
		name    string
		wrap    []string
		args    []string
		wantLog string
	}{
		{
			name:    "dropped capabilities",
			wrap:    []string{"setpriv", "--bounding-set", "-bpf,-perfmon,-sys_admin", "--inh-caps", "-bpf,-perfmon,-sys_admin", "--"},
			wantLog: "eBPF source unavailable; continuing with CRI only",
		},
		{
			name:    "the --ebpf=false flag",
			args:    []string{"--ebpf=false"},
			wantLog: "eBPF source disabled by flag",
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			agent := startAgentWrapped(t, tc.wrap, append([]string{"--cri-endpoint", c.Endpoint()}, tc.args...)...)
			agent.wantKernel = false // its loss is what is tested
			agent.waitLog(t, 30*time.Second, "msg=sources")
			logs := agent.logs()
			if !strings.Contains(logs, tc.wantLog) || !strings.Contains(logs, "unavailable=ebpf") {
				t.Fatalf("agent did not report CRI-only mode:\n%s", logs)
			}
			if strings.Count(logs, "eBPF source") != 1 {
				t.Errorf("eBPF unavailability reported %d times, want once", strings.Count(logs, "eBPF source"))
			}
			spec := harness.PodSpec{Namespace: "e2e", Name: fmt.Sprintf("nobpf-%d", i), UID: fmt.Sprintf("nobpf-%d-%d", i, time.Now().UnixNano()), GracePeriod: 2,
				Containers: []harness.ContainerSpec{{Name: "main", Command: []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"}}}}
			_, events := runAndDelete(t, d, agent, spec)
			if e := find(events, apiv1.KindSignalGenerated); e != nil {
				t.Errorf("kernel event without eBPF: %v", e)
			}
		})
	}
}
