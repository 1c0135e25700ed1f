package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

const (
	exitsOnTerm   = "trap 'exit 0' TERM; sleep 3600 & wait"
	ignoresTerm   = "trap '' TERM; sleep 3600 & wait"
	summaryWait   = 30 * time.Second
	stuckAgentArg = "2s"
)

func shell(script string) []string { return []string{"/bin/sh", "-c", script} }

func newSpec(name string, grace int64, containers ...harness.ContainerSpec) harness.PodSpec {
	return harness.PodSpec{Namespace: "e2e", Name: name, UID: fmt.Sprintf("%s-%d", name, time.Now().UnixNano()), GracePeriod: grace, Containers: containers}
}

// summaryOf waits for the pod's termination_summary and checks it is the
// only one.
func summaryOf(t *testing.T, agent *agentProc, uid string) *apiv1.Event {
	t.Helper()
	waitFor(t, summaryWait, "termination_summary", func() bool { return hasKind(agent.forPod(uid), apiv1.KindTerminationSummary) })
	var n int
	for _, e := range agent.forPod(uid) {
		if e.Kind == apiv1.KindTerminationSummary {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d termination summaries, want 1", n)
	}
	return find(agent.forPod(uid), apiv1.KindTerminationSummary)
}

func phase(e *apiv1.Event, name string) *apiv1.Phase {
	for _, p := range e.GetPhases() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func phaseDuration(p *apiv1.Phase) time.Duration {
	return p.End.AsTime().Sub(p.Start.AsTime())
}

func startSummaryAgent(t *testing.T, c *harness.Containerd, extra ...string) *agentProc {
	t.Helper()
	args := append([]string{"--cri-endpoint", c.Endpoint(), "--stuck-slack", stuckAgentArg, "--stuck-every", stuckAgentArg, "--cri-timeout", "2s", "--cni-bin-dir", c.CNIBinDir(), "--ebpf-cni-output"}, extra...)
	agent := startAgent(t, args...)
	agent.waitLog(t, 30*time.Second, "msg=sources")
	return agent
}

func TestTerminationSummary(t *testing.T) {
	cases := []struct {
		name  string
		spec  harness.PodSpec
		check func(t *testing.T, s *apiv1.Event, events []*apiv1.Event)
	}{
		{
			name: "a container that exits on SIGTERM terminates gracefully",
			spec: newSpec("graceful", 5, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm)}),
			check: func(t *testing.T, s *apiv1.Event, _ []*apiv1.Event) {
				if s.Verdict != "graceful" || s.GetKilled() || s.ExitCodes["main"] != 0 {
					t.Errorf("verdict %q killed %v exit codes %v, want graceful, false, main=0", s.Verdict, s.GetKilled(), s.ExitCodes)
				}
			},
		},
		{
			name: "a container that ignores SIGTERM is killed when the 3 s grace period ends",
			spec: newSpec("stubborn", 3, harness.ContainerSpec{Name: "main", Command: shell(ignoresTerm)}),
			check: func(t *testing.T, s *apiv1.Event, _ []*apiv1.Event) {
				if s.Verdict != "killed" || !s.GetKilled() || s.ExitCodes["main"] != 137 || s.GetGracePeriodS() != 3 {
					t.Errorf("verdict %q killed %v exit codes %v grace %d, want killed, true, main=137, 3", s.Verdict, s.GetKilled(), s.ExitCodes, s.GetGracePeriodS())
				}
				stop, kill := phase(s, "stop_signal"), phase(s, "sigkill")
				if stop == nil || kill == nil {
					t.Fatalf("phases %v lack stop_signal or sigkill", s.Phases)
				}
				if gap := kill.Start.AsTime().Sub(stop.Start.AsTime()); gap < 2*time.Second || gap > 10*time.Second {
					t.Errorf("SIGKILL came %s after SIGTERM, want about 3 s", gap)
				}
			},
		},
		{
			name: "a preStop exec of sleep 1 is a phase of at least 1 s before the stop signal",
			spec: newSpec("prestop", 4, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm),
				PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"sleep", "1"}}}}),
			check: func(t *testing.T, s *apiv1.Event, _ []*apiv1.Event) {
				pre, stop := phase(s, "prestop"), phase(s, "stop_signal")
				if pre == nil || stop == nil {
					t.Fatalf("phases %v lack prestop or stop_signal", s.Phases)
				}
				if phaseDuration(pre) < time.Second || pre.End.AsTime().After(stop.Start.AsTime()) {
					t.Errorf("prestop %s..%s, stop_signal from %s: want ≥1 s, ending before", pre.Start.AsTime(), pre.End.AsTime(), stop.Start.AsTime())
				}
			},
		},
		{
			name: "a three-container pod gets one summary with each container's exit code",
			spec: newSpec("multi", 3,
				harness.ContainerSpec{Name: "clean", Command: shell(exitsOnTerm)},
				harness.ContainerSpec{Name: "three", Command: shell("trap 'exit 3' TERM; sleep 3600 & wait")},
				harness.ContainerSpec{Name: "stubborn", Command: shell(ignoresTerm)}),
			check: func(t *testing.T, s *apiv1.Event, _ []*apiv1.Event) {
				want := map[string]int32{"clean": 0, "three": 3, "stubborn": 137}
				if fmt.Sprint(s.ExitCodes) != fmt.Sprint(want) || !s.GetKilled() {
					t.Errorf("exit codes %v killed %v, want %v and killed", s.ExitCodes, s.GetKilled(), want)
				}
			},
		},
		{
			name: "a pod with its own network releases its cgroups, rootfs and network namespace",
			spec: func() harness.PodSpec {
				s := newSpec("released", 3, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm)})
				s.PodNetwork = true
				return s
			}(),
			check: func(t *testing.T, _ *apiv1.Event, events []*apiv1.Event) {
				for _, kind := range []string{apiv1.KindCgroupRemoved, apiv1.KindRootfsReleased, apiv1.KindNetNSReleased, apiv1.KindMountsReleased} {
					if !hasKind(events, kind) {
						t.Errorf("no %s; events: %v", kind, kinds(events))
					}
				}
				if e := find(events, apiv1.KindNetNSReleased); e != nil && !strings.Contains(e.Path, "netns") {
					t.Errorf("netns_released path %q", e.Path)
				}
			},
		},
	}
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			// Normal deletions: a loaded machine can take longer than a 2 s
			// slack to tear one down, which is not what this test is about.
			agent := startSummaryAgent(t, c, "--stuck-slack", "30s")
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					runAndDelete(t, d, agent, tc.spec)
					s := summaryOf(t, agent, tc.spec.UID)
					tc.check(t, s, agent.forPod(tc.spec.UID))
					if hasKind(agent.forPod(tc.spec.UID), apiv1.KindStuck) {
						t.Errorf("a normal deletion was reported stuck")
					}
					// The sandbox's own process belongs to the pod, not to
					// a container.
					waitFor(t, 30*time.Second, "the pause process's exit, attributed to the pod", func() bool {
						return findWhere(agent.forPod(tc.spec.UID), apiv1.KindProcessExited, func(e *apiv1.Event) bool {
							return e.GetProcess().GetComm() == "pause" && e.Container == nil
						}) != nil
					})
					record(t, string(f)+"-"+tc.spec.Name, agent.forPod(tc.spec.UID))
				})
			}
		})
	}
}

// deleteInBackground starts the kubelet-order deletion and returns a channel
// with its result.
func deleteInBackground(d *harness.Driver, pod *harness.Pod) chan error {
	done := make(chan error, 1)
	go func() { done <- d.DeletePod(context.Background(), pod) }()
	return done
}

func waitSIGTERM(t *testing.T, agent *agentProc, uid string) {
	t.Helper()
	waitFor(t, 30*time.Second, "SIGTERM", func() bool {
		return findWhere(agent.forPod(uid), apiv1.KindSignalGenerated, func(e *apiv1.Event) bool { return e.GetSignal().GetName() == "SIGTERM" }) != nil
	})
}

func stuckWith(t *testing.T, agent *agentProc, uid, want string) *apiv1.Event {
	t.Helper()
	var got *apiv1.Event
	waitFor(t, 60*time.Second, "stuck report with "+want, func() bool {
		got = findWhere(agent.forPod(uid), apiv1.KindStuck, func(e *apiv1.Event) bool {
			return strings.Contains(strings.Join(e.Evidence, "\n"), want)
		})
		return got != nil
	})
	return got
}

// TestStuck stops the runtime, or one pod's shim, in the middle of a
// deletion: the pod is reported stuck with evidence naming what does not
// answer, and completes once it is continued.
func TestStuck(t *testing.T) {
	cases := []struct {
		name string
		// stop returns the process to SIGSTOP once SIGTERM was sent.
		stop      func(c *harness.Containerd, pod *harness.Pod) int
		wantPhase string
		want      string
	}{
		{"the runtime is stopped", func(c *harness.Containerd, _ *harness.Pod) int { return c.Pid() }, "stop_signal", "container runtime not answering CRI calls"},
		{"the pod's shim is stopped", func(_ *harness.Containerd, pod *harness.Pod) int { return harness.ShimPid(pod.SandboxID) }, "stop_signal", "is stopped: it cannot act"},
	}
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startSummaryAgent(t, c)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					spec := newSpec("stuck", 3, harness.ContainerSpec{Name: "main", Command: shell(ignoresTerm)})
					pod, err := d.RunPod(context.Background(), spec)
					if err != nil {
						t.Fatal(err)
					}
					waitStarted(t, agent, spec)
					done := deleteInBackground(d, pod)
					waitSIGTERM(t, agent, spec.UID)
					pid := tc.stop(c, pod)
					if pid <= 0 {
						t.Fatal("no process to stop")
					}
					syscall.Kill(pid, syscall.SIGSTOP)
					continued := false
					defer func() {
						if !continued {
							syscall.Kill(pid, syscall.SIGCONT)
						}
					}()
					s := stuckWith(t, agent, spec.UID, tc.want)
					if s.BlockingPhase != tc.wantPhase || s.Since == nil {
						t.Errorf("stuck blocking_phase %q since %v, want %q", s.BlockingPhase, s.Since, tc.wantPhase)
					}
					syscall.Kill(pid, syscall.SIGCONT)
					continued = true
					if err := <-done; err != nil {
						t.Fatalf("deletion after SIGCONT: %v", err)
					}
					if sum := summaryOf(t, agent, spec.UID); sum.Verdict != "killed" {
						t.Errorf("final verdict %q, want killed", sum.Verdict)
					}
				})
			}
		})
	}
}

// TestFrozenContainer freezes a container through its cgroup (the v1
// freezer, or cgroup.freeze on a unified hierarchy) before deletion:
// SIGTERM is generated but not delivered, the grace period runs out, runc
// thaws and kills it.
func TestFrozenContainer(t *testing.T) {
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startSummaryAgent(t, c, "--stuck-slack", "30s")
			spec := newSpec("frozen", 3, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm)})
			pod, err := d.RunPod(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			waitStarted(t, agent, spec)
			thaw, err := c.Freeze(pod.Containers["main"])
			if err != nil {
				t.Fatal(err)
			}
			defer thaw()
			if err := d.DeletePod(context.Background(), pod); err != nil {
				t.Fatal(err)
			}
			s := summaryOf(t, agent, spec.UID)
			events := agent.forPod(spec.UID)
			pid := find(events, apiv1.KindContainerStarted).GetProcess().GetPid()
			term := findWhere(events, apiv1.KindSignalGenerated, signalTo(pid, "SIGTERM"))
			kill := findWhere(events, apiv1.KindSignalGenerated, signalTo(pid, "SIGKILL"))
			if term == nil || kill == nil {
				t.Fatalf("SIGTERM %v SIGKILL %v; events %v", term != nil, kill != nil, kinds(events))
			}
			if d := findWhere(events, apiv1.KindSignalDelivered, signalTo(pid, "SIGTERM")); d != nil {
				t.Errorf("SIGTERM delivered to a frozen process: %v", d)
			}
			if gap := kill.Time.AsTime().Sub(term.Time.AsTime()); gap < 2*time.Second {
				t.Errorf("SIGKILL %s after SIGTERM, want the whole 3 s grace period", gap)
			}
			// The v1 freezer leaves its tasks in state D; v2's freezer traps
			// them in an interruptible sleep.
			state := "state D"
			if f.Unified() {
				state = "state S"
			}
			notes := strings.Join(s.Evidence, "\n")
			if s.Verdict != "killed" || !strings.Contains(notes, "frozen") || !strings.Contains(notes, state) || !strings.Contains(notes, "TERM") {
				t.Errorf("summary verdict %q evidence %q, want killed with the frozen %s and SIGTERM pending", s.Verdict, notes, state)
			}
			if c := causeOf(events, "main"); c.GetCause() != apiv1.CauseFrozen {
				t.Errorf("cause %v, want %s", c, apiv1.CauseFrozen)
			}
			record(t, string(f)+"-frozen", agent.forPod(spec.UID))
		})
	}
}

// TestAgentRestartDuringDeletion kills the agent with SIGKILL in the middle
// of a deletion and starts a new one (printing summaries only): the summary
// still comes, once.
func TestAgentRestartDuringDeletion(t *testing.T) {
	c, d := startRuntime(t, harness.Containerd2)
	first := startSummaryAgent(t, c)
	spec := newSpec("restart", 5, harness.ContainerSpec{Name: "main", Command: shell(ignoresTerm)})
	pod, err := d.RunPod(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, first, spec)
	done := deleteInBackground(d, pod)
	waitSIGTERM(t, first, spec.UID)
	first.crash()
	second := startSummaryAgent(t, c, "--summaries-only")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s := summaryOf(t, second, spec.UID)
	if hasKind(first.forPod(spec.UID), apiv1.KindTerminationSummary) {
		t.Errorf("the killed agent emitted a summary too")
	}
	if !s.GetKilled() || s.ExitCodes["main"] != 137 {
		t.Errorf("summary after restart: killed %v exit codes %v, want killed, main=137", s.GetKilled(), s.ExitCodes)
	}
	for _, e := range second.Events() {
		if e.Kind != apiv1.KindTerminationSummary && e.Kind != apiv1.KindStuck {
			t.Errorf("--summaries-only printed a %s event", e.Kind)
		}
	}
}

// TestFailingCNIDel breaks the network plugin's DEL: the pod is stuck in
// sandbox teardown with its network namespace still there and the plugin's
// own error message, seen in the kernel, as evidence; it completes once DEL
// works again, and its summary keeps the failure.
func TestFailingCNIDel(t *testing.T) {
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startSummaryAgent(t, c)
			spec := newSpec("cnidel", 2, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm)})
			spec.PodNetwork = true
			pod, err := d.RunPod(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			waitStarted(t, agent, spec)
			if err := c.FailCNIDel(true); err != nil {
				t.Fatal(err)
			}
			err = d.DeletePod(context.Background(), pod)
			if err == nil || !strings.Contains(err.Error(), "DEL fails") {
				t.Fatalf("deletion with a failing CNI DEL: err = %v, want the plugin's error", err)
			}
			failed := waitCNIFailure(t, agent, spec.UID)
			if failed.SandboxId != pod.SandboxID || failed.GetProcess().GetComm() != "cnifail" || failed.GetExitCode() != 1 {
				t.Errorf("cni_plugin_failed %v, want cnifail exiting 1 for sandbox %s", failed, pod.SandboxID)
			}
			wantNote := "CNI DEL by plugin cnifail for sandbox " + pod.SandboxID[:12] + " failed (exit 1): graceline test plugin: DEL fails while"
			s := stuckWith(t, agent, spec.UID, wantNote)
			if s.BlockingPhase != "sandbox_teardown" {
				t.Errorf("blocking_phase %q, want sandbox_teardown; evidence %q", s.BlockingPhase, s.Evidence)
			}
			t.Logf("stuck at %s, evidence:\n  %s", s.BlockingPhase, strings.Join(s.Evidence, "\n  "))
			if !strings.Contains(strings.Join(s.Evidence, "\n"), "network namespace still present") {
				t.Errorf("stuck evidence %q does not name the network namespace", s.Evidence)
			}
			if err := c.FailCNIDel(false); err != nil {
				t.Fatal(err)
			}
			if err := d.DeletePod(context.Background(), pod); err != nil {
				t.Fatalf("deletion once DEL works: %v", err)
			}
			sum := summaryOf(t, agent, spec.UID)
			if !hasKind(agent.forPod(spec.UID), apiv1.KindNetNSReleased) {
				t.Errorf("no netns_released after the retry")
			}
			if !strings.Contains(strings.Join(sum.Evidence, "\n"), wantNote) {
				t.Errorf("summary evidence %q does not keep the failed DEL", sum.Evidence)
			}
		})
	}
}

// waitCNIFailure waits for a failed CNI DEL of the pod, reported with the
// plugin's error message.
func waitCNIFailure(t *testing.T, agent *agentProc, uid string) *apiv1.Event {
	t.Helper()
	var got *apiv1.Event
	waitFor(t, 30*time.Second, "cni_plugin_failed with the plugin's message", func() bool {
		got = findWhere(agent.forPod(uid), apiv1.KindCNIPluginFailed, func(e *apiv1.Event) bool {
			return strings.HasPrefix(e.Reason, "DEL: ") && strings.Contains(e.Reason, "DEL fails")
		})
		return got != nil
	})
	return got
}
