package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	recording "github.com/graceline/graceline/agent/record"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// busyTestPods is how many pods TestBusyNode runs at once.
const busyTestPods = 100

// busyQuiet is how long TestBusyNode watches the pods run before it deletes
// them: long enough for each loop to fork ten times, and for the kernel to
// pass one exit of each as history.
const busyQuiet = 12 * time.Second

// busyGrace is the pods' grace period, and busySlack the agent's default
// --stuck-slack: a termination is reported stuck only once it ran as long
// as both.
const (
	busyGrace = 5 * time.Second
	busySlack = 30 * time.Second
)

// TestBusyNode: a hundred pods, each forking a sleep every second, run
// side by side and are then deleted at once. While they run, the agent
// records nothing of them; each termination is recorded within the goal
// (one the runtime had to SIGKILL, within the goal and its kill's rows),
// with at most the history of the loop from before its window, its init's
// SIGTERM and exit, and the pause's SIGKILL as one row; no pod is reported
// stuck, and each summary is the deletion's own.
func TestBusyNode(t *testing.T) {
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startAgent(t, "--cri-endpoint", c.Endpoint())
			agent.waitLog(t, 30*time.Second, "msg=sources")
			ctx := context.Background()

			specs := make([]harness.PodSpec, busyTestPods)
			pods := make([]*harness.Pod, busyTestPods)
			for i := range specs {
				specs[i] = newSpec(fmt.Sprintf("busy-%d", i), int64(busyGrace/time.Second), harness.ContainerSpec{Name: "main", Command: shell("trap 'exit 0' TERM; while true; do sleep 1; done")})
				var err error
				if pods[i], err = d.RunPod(ctx, specs[i]); err != nil {
					t.Fatal(err)
				}
			}
			// A pod's start ends with its shell's exec, which may reach the
			// agent after the runtime's container_started.
			for _, s := range specs {
				waitStarted(t, agent, s)
				waitInitExec(t, agent, s)
			}
			before := make([]int, len(specs))
			for i, s := range specs {
				before[i] = len(activity(agent.forPod(s.UID)))
			}
			time.Sleep(busyQuiet)
			for i, s := range specs {
				if es := activity(agent.forPod(s.UID)); len(es) != before[i] {
					t.Errorf("%s: %d events while it ran quietly, want none:\n%s", s.Name, len(es)-before[i], showAll(es[before[i]:]))
				}
			}

			if err := <-deleteAll(ctx, d, pods); err != nil {
				t.Fatal(err)
			}
			total := 0
			for i, s := range specs {
				// The summary is the deletion's own: it begins at the
				// container's SIGTERM and has its exit code, however long
				// the runtime took to stop the sandbox after it.
				sum := summaryOf(t, agent, s.UID)
				if _, ok := sum.GetExitCodes()["main"]; !ok {
					t.Errorf("%s: the pod's summary has no exit code of its container: %s", s.Name, show(sum))
				}
				all := activity(agent.forPod(s.UID))
				if e := find(all, apiv1.KindContainerSummary); e != nil {
					t.Errorf("%s: its deletion was taken for a container's own stop: %s", s.Name, show(e))
				}
				n := checkTermination(t, s.Name, all, before[i])
				total += n
			}
			t.Logf("%d pods: %.1f events per termination on average (goal %d)", busyTestPods, float64(total)/busyTestPods, maxTerminationEvents)
		})
	}
}

// activity leaves out of es the agent's readiness reports: they say, at
// a container's start, shortly after and on a change, how it would stop
// (agent/readiness), whether its loop forks or not, and are not part of
// what the recording policy records of its processes.
func activity(es []*apiv1.Event) []*apiv1.Event {
	return slices.DeleteFunc(slices.Clone(es), func(e *apiv1.Event) bool { return e.Kind == apiv1.KindTerminationReadiness })
}

// checkTermination checks the recording policy on one pod's termination,
// whose events begin at all[from], and returns how many there were up to
// its summary.
func checkTermination(t *testing.T, name string, all []*apiv1.Event, from int) int {
	t.Helper()
	for _, e := range all[:from] {
		if e.Kind == apiv1.KindProcessExited || strings.HasPrefix(e.GetTarget().GetComm(), "runc:[") {
			t.Errorf("%s: before the deletion, recorded %s", name, show(e))
		}
	}
	term := all[from:]
	n := 0
	for _, e := range term {
		n++
		if e.Kind == apiv1.KindTerminationSummary {
			break
		}
	}
	limit := maxTerminationEvents
	if n > 0 && term[n-1].Kind == apiv1.KindTerminationSummary && term[n-1].GetKilled() {
		limit += killRows
	}
	if n > limit {
		t.Errorf("%s: %d events in the termination, want at most %d:\n%s", name, n, limit, showAll(term[:n]))
	}
	pid := find(all, apiv1.KindContainerStarted).GetProcess().GetPid()
	sigterm := findWhere(term, apiv1.KindSignalGenerated, signalTo(pid, "SIGTERM"))
	if sigterm == nil {
		t.Errorf("%s: no SIGTERM to the init, pid %d", name, pid)
	}
	removed := find(term, apiv1.KindSandboxRemoved)
	var sleeps int
	var pauseRows []*apiv1.Event
	for _, e := range term[:n] {
		switch {
		case e.Kind == apiv1.KindStuck:
			// A runtime stopping a hundred pods on a loaded machine can
			// really take longer than the grace period and the slack; a
			// report is false when the termination did not last that
			// long, or was over well before it (the report due in the
			// same second as the runtime's news of the removal may come
			// first).
			at := e.GetTime().AsTime()
			if sigterm == nil || removed == nil || removed.GetTime().AsTime().Add(2*time.Second).Before(at) ||
				removed.GetTime().AsTime().Sub(sigterm.GetTime().AsTime()) < busyGrace+busySlack {
				t.Errorf("%s: reported stuck at %v while not (SIGTERM %v, sandbox removed %v)", name, at, sigterm.GetTime().AsTime(), removed.GetTime().AsTime())
			}
		case e.Kind == apiv1.KindProcessExited && e.GetProcess().GetComm() == "sleep":
			sleeps++
		case e.Kind == apiv1.KindSignalDelivered && e.GetTarget().GetComm() == "pause":
			pauseRows = append(pauseRows, e)
			if e.Count < 2 {
				t.Errorf("%s: the pause's SIGKILL row counts %d deliveries, want one per thread", name, e.Count)
			}
		case strings.HasPrefix(e.GetTarget().GetComm(), "runc:["):
			t.Errorf("%s: recorded %s", name, show(e))
		}
	}
	if sleeps == 0 || sleeps > recording.DefaultHistory+2 {
		t.Errorf("%s: %d of the loop's exits recorded, want the history (at most %d) and the ones in the window", name, sleeps, recording.DefaultHistory)
	}
	if len(pauseRows) != 1 {
		t.Errorf("%s: %d rows of the pause's SIGKILL, want one:\n%s", name, len(pauseRows), showAll(term[:n]))
	}
	return n
}

// deleteAll deletes the pods at once, as a node drained of them sees, and
// returns a channel that receives the first error, or nil, once every
// deletion returned.
func deleteAll(ctx context.Context, d *harness.Driver, pods []*harness.Pod) <-chan error {
	return deleteEvery(ctx, d, pods, 0)
}

// deleteEvery deletes pods one every interval, each deletion running
// beside the later ones, or all at once for 0; the channel says when all
// are done.
func deleteEvery(ctx context.Context, d *harness.Driver, pods []*harness.Pod, interval time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		var wg sync.WaitGroup
		errs := make([]error, len(pods))
		for i, p := range pods {
			if i > 0 && interval > 0 {
				time.Sleep(interval)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = d.DeletePod(ctx, p)
			}()
		}
		wg.Wait()
		done <- errors.Join(errs...)
	}()
	return done
}

// waitInitExec waits for the exec of s's container's init to be recorded
// as the pod's. On a timeout it says where the exec went instead: left
// without a pod, or nowhere.
func waitInitExec(t *testing.T, agent *agentProc, s harness.PodSpec) {
	t.Helper()
	initExec := func(es []*apiv1.Event, pid int32) *apiv1.Event {
		return findWhere(es, apiv1.KindExec, func(e *apiv1.Event) bool { return e.GetProcess().GetPid() == pid })
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		es := agent.forPod(s.UID)
		started := find(es, apiv1.KindContainerStarted)
		pid := started.GetProcess().GetPid()
		if initExec(es, pid) != nil {
			return
		}
		if time.Now().After(deadline) {
			elsewhere := "nowhere"
			if e := initExec(agent.Events(), pid); e != nil {
				elsewhere = show(e)
			}
			t.Fatalf("timed out after 30s waiting for %s's shell exec, pid %d, started %s; the exec is %s; the pod's events:\n%s",
				s.Name, pid, started.GetTime().AsTime().Format(time.RFC3339Nano), elsewhere, showAll(es))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
