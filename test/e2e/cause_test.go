package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// Shapes of a container's command, and what busybox's sh makes of them.
const (
	// A loop keeps sh as PID 1, with no handler for SIGTERM.
	noTrap = "while :; do sleep 1; done"
	// The trap runs once the loop's current sleep ends, and outlasts the
	// grace period; the loop's sleep, older than the stop, exits on its own.
	slowTrap = "trap 'sleep 30' TERM; while :; do sleep 0.2; done"
	// A shell with a trap set forks even its last command rather than
	// exec it, and waits for it: it takes SIGTERM, the worker never does.
	noForward = "trap 'echo stopping' TERM; sleep 3600"
	// The shell execs tail, which keeps its pid: tail is the container's
	// PID 1 and the OOM killer's victim. The second first lets the agent
	// learn the container's init: a kill in the first milliseconds of a
	// container is seen by the runtime alone.
	oomInit = "sleep 1; exec tail /dev/zero"
	// The container is done before its pod is deleted.
	exitsEarly = "sleep 1; exit 3"
)

// ready is what a cause's pod must have done before its deletion, given
// its init's pid; nil when the container must have exited.
type ready func(t *testing.T, pid int32) bool

// isShell says the init has exec'd sh: before, runc's init would take the
// signal, and a cause about sh would be about something else.
func isShell(t *testing.T, pid int32) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b)) == "sh"
}

// trapsTerm says the init has set its SIGTERM disposition.
func trapsTerm(t *testing.T, pid int32) bool { return harness.HandlesSignal(pid, syscall.SIGTERM) }

// workerOlderThan says the init traps SIGTERM and has a child that started
// at least d ago, by the kernel's own count, so that the child counts as
// running before the stop.
func workerOlderThan(d time.Duration) ready {
	return func(t *testing.T, pid int32) bool {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		f := strings.Fields(string(kids))
		return trapsTerm(t, pid) && len(f) > 0 && age(f[0]) >= d
	}
}

// age is how long ago the process pid started: the machine's uptime less
// its start, both counted from boot; 0 when either is unreadable.
func age(pid string) time.Duration {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	up, err2 := os.ReadFile("/proc/uptime")
	if err != nil || err2 != nil {
		return 0
	}
	// The fields after the command, which may hold spaces; starttime is
	// the 22nd field of the line, the 20th of these.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	upSecs, err := strconv.ParseFloat(strings.Fields(string(up))[0], 64)
	if len(fields) < 20 || err != nil {
		return 0
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		return 0
	}
	return time.Duration(upSecs*float64(time.Second)) - time.Duration(ticks)*10*time.Millisecond
}

// TestCauses deletes pods whose containers end in each way the issue names
// on real runtimes, with real runc and the real kernel, and checks the
// cause and advice their summaries give each container. The agent's
// events are recorded for agent/timeline's agreement test with
// GRACELINE_E2E_RECORD.
func TestCauses(t *testing.T) {
	const grace = 3
	cases := []struct {
		name        string
		spec        harness.PodSpec
		ready       ready // nil: wait for the container's exit
		wantCause   string
		wantAdvice  string // text the advice holds
		wantVerdict string
	}{
		{
			name: "PID 1 sh -c without a trap: the kernel drops SIGTERM for a namespace's init, so SIGKILL at the grace",
			spec: newSpec("notrap", grace, harness.ContainerSpec{Name: "main", Command: shell(noTrap)}), ready: isShell,
			wantCause: apiv1.CausePID1NoHandler, wantAdvice: "exec the worker", wantVerdict: apiv1.VerdictKilled,
		},
		{
			name: "a trap that sleeps past the grace period is a handler too slow",
			spec: newSpec("slowtrap", grace, harness.ContainerSpec{Name: "main", Command: shell(slowTrap)}), ready: trapsTerm,
			wantCause: apiv1.CauseHandlerTooSlow, wantAdvice: "terminationGracePeriodSeconds", wantVerdict: apiv1.VerdictKilled,
		},
		{
			name: "trap '' TERM ignores the signal",
			spec: newSpec("ignores", grace, harness.ContainerSpec{Name: "main", Command: shell(ignoresTerm)}), ready: trapsTerm,
			wantCause: apiv1.CauseSignalIgnored, wantAdvice: "ignores SIGTERM", wantVerdict: apiv1.VerdictKilled,
		},
		{
			name: "a shell PID 1 that takes SIGTERM and forwards nothing leaves its child without it",
			spec: newSpec("noforward", grace, harness.ContainerSpec{Name: "main", Command: shell(noForward)}), ready: workerOlderThan(300 * time.Millisecond),
			wantCause: apiv1.CauseSignalNotForwarded, wantAdvice: "never passed it to sleep (pid", wantVerdict: apiv1.VerdictKilled,
		},
		{
			name:      "a PID 1 the OOM killer kills is OOM-killed",
			spec:      newSpec("oominit", grace, harness.ContainerSpec{Name: "main", Command: shell(oomInit), MemoryLimit: 32 << 20}),
			wantCause: apiv1.CauseOOMKilled, wantAdvice: "raise the container's memory limit (32 MiB)", wantVerdict: apiv1.VerdictGraceful,
		},
		{
			name:      "a container that exits before the delete exited before the stop",
			spec:      newSpec("early", grace, harness.ContainerSpec{Name: "main", Command: shell(exitsEarly)}),
			wantCause: apiv1.CauseExitedBeforeStop, wantAdvice: "exited with code 3 before the stop", wantVerdict: apiv1.VerdictGraceful,
		},
		{
			name: "a container that exits on SIGTERM exited on its stop signal",
			spec: newSpec("exits", grace, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm)}), ready: trapsTerm,
			wantCause: apiv1.CauseExitedOnStopSignal, wantAdvice: "nothing to change", wantVerdict: apiv1.VerdictGraceful,
		},
	}
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			// A loaded machine's runtime may take seconds to tear a sandbox
			// down: the default-like slack keeps the stuck check about the
			// agent, not the machine's speed.
			agent := startSummaryAgent(t, c, "--stuck-slack", "30s")
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					if tc.spec.Containers[0].MemoryLimit != 0 {
						skipWithoutMemoryController(t, f)
					}
					ctx := context.Background()
					pod, err := d.RunPod(ctx, tc.spec)
					if err != nil {
						t.Fatal(err)
					}
					if tc.ready != nil {
						pid := initPid(t, agent, tc.spec.UID)
						waitFor(t, 30*time.Second, "the container's init to be ready", func() bool { return tc.ready(t, pid) })
					} else {
						waitFor(t, 60*time.Second, "container_exited", func() bool { return hasKind(agent.forPod(tc.spec.UID), apiv1.KindContainerExited) })
					}
					if err := d.DeletePod(ctx, pod); err != nil {
						t.Fatal(err)
					}
					s := summaryOf(t, agent, tc.spec.UID)
					events := agent.forPod(tc.spec.UID)
					got := causeOf(events, "main")
					if got == nil {
						t.Fatalf("no cause for main in the summaries: %v", kinds(events))
					}
					t.Logf("main: %s — %s\n  %s", got.Cause, got.Advice, strings.Join(got.Facts, "\n  "))
					if got.Cause != tc.wantCause || !strings.Contains(got.Advice, tc.wantAdvice) {
						t.Errorf("cause %q advice %q, want %q with %q", got.Cause, got.Advice, tc.wantCause, tc.wantAdvice)
					}
					if s.Verdict != tc.wantVerdict {
						t.Errorf("verdict %q, want %q", s.Verdict, tc.wantVerdict)
					}
					if hasKind(events, apiv1.KindStuck) {
						t.Errorf("a normal deletion was reported stuck")
					}
					record(t, string(f)+"-"+tc.spec.Name, events)
				})
			}
		})
	}
}

// initPid waits for the container's start and returns its init's pid.
func initPid(t *testing.T, agent *agentProc, uid string) int32 {
	t.Helper()
	var pid int32
	waitFor(t, 30*time.Second, "container_started", func() bool {
		pid = find(agent.forPod(uid), apiv1.KindContainerStarted).GetProcess().GetPid()
		return pid > 0
	})
	return pid
}

// causeOf is a container's cause from the pod's summary, or else from its
// own container summary: an exit long before the deletion is the
// container's own termination.
func causeOf(events []*apiv1.Event, name string) *apiv1.ContainerCause {
	for _, kind := range []string{apiv1.KindTerminationSummary, apiv1.KindContainerSummary} {
		for _, e := range events {
			if e.Kind != kind {
				continue
			}
			for _, c := range e.Causes {
				if c.GetContainer().GetName() == name {
					return c
				}
			}
		}
	}
	return nil
}
