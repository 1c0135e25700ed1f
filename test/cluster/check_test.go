package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/internal/cli"
	"github.com/graceline/graceline/test/harness"
)

// checkTimeout bounds the wait for a check to show a running container as
// expected: the agent reads each container at its start and 3 s later,
// and a read missed under load comes back within the agent's one-minute
// interval.
const checkTimeout = 100 * time.Second

// slowHandler traps SIGTERM with a handler that outlasts a 3 s grace
// period; its loop's sleeps are too short-lived to count as a worker.
const slowHandler = "trap 'sleep 30' TERM; while :; do sleep 0.2; done"

// TestCheckPredictsEachStop runs, under the real kubelet, a pod of each
// shape the check must tell apart, reads `kubectl graceline check`, then
// deletes them and holds each final summary's cause against the
// prediction shown in it. A Deployment whose handler is too slow is
// predicted to exit before its first termination, and to be killed once
// that termination is in its history.
func TestCheckPredictsEachStop(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "check")
	shapes := []struct {
		name, script, image string
		grace               int64
		outcome, cause      string
		signal              string
		// shared gives the pod one process namespace, the pause's.
		shared bool
	}{
		{"no-trap", "while :; do sleep 1; done", "", 3, apiv1.VerdictKilled, apiv1.CausePID1NoHandler, "SIGTERM", false},
		{"ignores", ignoresTerm, "", 3, apiv1.VerdictKilled, apiv1.CauseSignalIgnored, "SIGTERM", false},
		{"exits", exitsOnTerm, "", 30, apiv1.VerdictGraceful, apiv1.CauseExitedOnStopSignal, "SIGTERM", false},
		{"no-forward", "trap 'exit 0' TERM; sleep 3600", "", 3, apiv1.VerdictKilled, apiv1.CauseSignalNotForwarded, "SIGTERM", false},
		{"stopsignal", "trap 'exit 0' USR1; sleep 3600 & wait", harness.BusyboxStopSignalImage, 30, apiv1.VerdictGraceful, apiv1.CauseExitedOnStopSignal, harness.BusyboxStopSignal, false},
		// The no-trap loop again, but not its PID namespace's init: the
		// signal's default action ends it.
		{"shared-no-trap", "while :; do sleep 1; done", "", 30, apiv1.VerdictGraceful, apiv1.CauseExitedOnStopSignal, "SIGTERM", true},
	}
	var pods []*corev1.Pod
	for _, s := range shapes {
		p := busyboxPod(ns, s.name, s.script, s.grace)
		if s.image != "" {
			p.Spec.Containers[0].Image = s.image
		}
		if s.shared {
			p.Spec.ShareProcessNamespace = &s.shared
		}
		pods = append(pods, createRunning(t, p))
	}
	createScriptDeployment(t, ns, "slow", map[string]string{"app": "slow"}, 1, 3, slowHandler)

	byPod := waitChecks(t, []string{"-n", ns}, "every shape predicted", func(cs map[string]*apiv1.ContainerCheck) bool {
		for _, s := range shapes {
			c := cs[s.name]
			if c.GetPrediction().GetOutcome() != s.outcome || c.GetPrediction().GetCause() != s.cause || c.GetReadiness().GetSignal().GetName() != s.signal {
				return false
			}
		}
		slow := slowPod(cs)
		return slow != nil && slow.GetPrediction().GetCause() == apiv1.CauseExitedOnStopSignal && slow.GetWorkload().GetKind() == "Deployment"
	})
	table, err := collector.cli("check", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl graceline check -n %s, before any termination:\n%s", ns, table)
	slow := slowPod(byPod)

	// Every pod deleted at once, the slow Deployment's too: each summary
	// must carry the cause that was predicted, but the slow handler's,
	// which only its history reveals.
	slowFirst := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: slow.GetPod().GetName(), UID: types.UID(slow.GetPod().GetUid())}}
	for _, p := range append(pods, slowFirst) {
		if err := client.CoreV1().Pods(ns).Delete(context.Background(), p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete pod %s: %v", p.Name, err)
		}
	}
	for i, p := range pods {
		waitGone(t, p)
		checkSummaryPrediction(t, collectedSummary(t, p), shapes[i].cause, shapes[i].cause)
	}
	waitGone(t, slowFirst)
	checkSummaryPrediction(t, collectedSummary(t, slowFirst), apiv1.CauseHandlerTooSlow, apiv1.CauseExitedOnStopSignal)

	// The Deployment's next pod is predicted killed, from that history,
	// and its own deletion then bears the prediction out.
	after := waitChecks(t, []string{"-n", ns, "deploy/slow"}, "the slow handler's next pod predicted killed", func(cs map[string]*apiv1.ContainerCheck) bool {
		s := slowPod(cs)
		return s != nil && s.GetPod().GetUid() != slow.GetPod().GetUid() && s.GetPrediction().GetOutcome() == apiv1.VerdictKilled &&
			s.GetPrediction().GetCause() == apiv1.CauseHandlerTooSlow && s.Terminations == 1 && s.Killed == 1
	})
	if table, err = collector.cli("check", "-n", ns, "deploy/slow"); err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl graceline check -n %s deploy/slow, after one termination:\n%s", ns, table)
	if !strings.Contains(table, "TRY ") || !strings.Contains(table, "1/1") {
		t.Errorf("check of deploy/slow after its first termination lacks the advice or the SIGKILL count:\n%s", table)
	}
	// The predicted-kill gauge counts it as the check predicts it: the one
	// running pod of the namespace now, predicted killed by its history.
	series := fmt.Sprintf(`graceline_containers_predicted_kill{namespace=%q}`, ns)
	waitFor(t, checkTimeout, series+" to be 1", func() bool { return collectorMetric(t, series) == 1 })
	next := slowPod(after)
	slowNext := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: next.GetPod().GetName(), UID: types.UID(next.GetPod().GetUid())}}
	scaleTo(t, ns, "slow", 0)
	waitGone(t, slowNext)
	checkSummaryPrediction(t, collectedSummary(t, slowNext), apiv1.CauseHandlerTooSlow, apiv1.CauseHandlerTooSlow)
}

// TestCheckFlagsADeploymentThatIgnoresSIGTERM runs a Deployment whose pods
// ignore SIGTERM: `check deploy/NAME` shows each predicted killed with the
// fix, through --collector and through the API server alike, --fail-on-kill
// exits 3, and the predicted-kill gauge counts them in their namespace.
func TestCheckFlagsADeploymentThatIgnoresSIGTERM(t *testing.T) {
	// Not parallel: the aggregated API's registration is one per cluster,
	// made and removed by each test that reads through it.
	registerAPIService(t)
	ns := newNamespace(t, "checkdeploy")
	createScriptDeployment(t, ns, "ignorer", map[string]string{"app": "ignorer"}, 2, 3, ignoresTerm)
	createDeployment(t, ns, "fine", map[string]string{"app": "fine"}, 1, 3)
	waitChecks(t, []string{"-n", ns, "deploy/ignorer"}, "both of deploy/ignorer's pods predicted killed", func(cs map[string]*apiv1.ContainerCheck) bool {
		n := 0
		for _, c := range cs {
			if c.GetWorkload().GetName() != "ignorer" {
				return false
			}
			if c.GetPrediction().GetOutcome() == apiv1.VerdictKilled && c.GetPrediction().GetCause() == apiv1.CauseSignalIgnored && c.GetPrediction().GetAdvice() != "" {
				n++
			}
		}
		return n == 2
	})
	table, err := collector.cli("check", "-n", ns, "deploy/ignorer", "--fail-on-kill")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != cli.ExitFindings {
		t.Errorf("check --fail-on-kill of deploy/ignorer: %v, want exit status %d", err, cli.ExitFindings)
	}
	t.Logf("kubectl graceline check -n %s deploy/ignorer:\n%s", ns, table)
	if !strings.Contains(table, "2 of 2 containers are predicted to be SIGKILLed") || strings.Count(table, "TRY ") != 2 {
		t.Errorf("check of deploy/ignorer lacks its verdict or its advice:\n%s", table)
	}
	// Through the API server, with only the kubeconfig, the same table and
	// the same exit status.
	viaAPI := kubeCLI(t, "check", "-n", ns, "deploy/ignorer", "--fail-on-kill")
	if !errors.As(viaAPI.err, &exit) || exit.ExitCode() != cli.ExitFindings || viaAPI.stdout != table {
		t.Errorf("check through the API server (%v, %s):\n%s\nwant exit status %d and what --collector printed:\n%s", viaAPI.err, viaAPI.stderr, viaAPI.stdout, cli.ExitFindings, table)
	}
	if _, err := collector.cli("check", "-n", ns, "deploy/fine", "--fail-on-kill"); err != nil {
		t.Errorf("check --fail-on-kill of a Deployment that exits on SIGTERM: %v, want success", err)
	}
	series := fmt.Sprintf(`graceline_containers_predicted_kill{namespace=%q}`, ns)
	waitFor(t, checkTimeout, series+" to be 2", func() bool { return collectorMetric(t, series) == 2 })
}

// waitChecks polls `kubectl graceline check ARGS -o json` until ok holds
// for its containers, by pod name, and returns them; on a timeout it shows
// the last answer.
func waitChecks(t *testing.T, args []string, what string, ok func(map[string]*apiv1.ContainerCheck) bool) map[string]*apiv1.ContainerCheck {
	t.Helper()
	var byPod map[string]*apiv1.ContainerCheck
	var last string
	deadline := time.Now().Add(checkTimeout)
	for {
		out, err := collector.cli(append(append([]string{"check"}, args...), "-o", "json")...)
		if err == nil {
			last = out
			byPod = map[string]*apiv1.ContainerCheck{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if line == "" {
					continue
				}
				c := &apiv1.ContainerCheck{}
				if err := protojson.Unmarshal([]byte(line), c); err != nil {
					t.Fatalf("read check's JSON line %q: %v", line, err)
				}
				byPod[c.GetPod().GetName()] = c
			}
			if ok(byPod) {
				return byPod
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, kubectl graceline check %s: not yet %s (last error %v):\n%s", checkTimeout, strings.Join(args, " "), what, err, last)
		}
		time.Sleep(time.Second)
	}
}

// slowPod is the check of the slow Deployment's pod, nil when none.
func slowPod(cs map[string]*apiv1.ContainerCheck) *apiv1.ContainerCheck {
	for name, c := range cs {
		if strings.HasPrefix(name, "slow-") {
			return c
		}
	}
	return nil
}

// checkSummaryPrediction checks a final summary's one cause and the
// prediction it shows.
func checkSummaryPrediction(t *testing.T, s *apiv1.Event, cause, predicted string) {
	t.Helper()
	causes := s.GetCauses()
	if len(causes) != 1 || causes[0].Cause != cause || causes[0].Predicted != predicted {
		t.Errorf("%s: summary's causes %v, want %s predicted as %s", s.GetPod().GetName(), causes, cause, predicted)
	}
}
