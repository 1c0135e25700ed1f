package cluster_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/cluster"
	"github.com/graceline/graceline/test/harness"
)

// helmRelease is the release's name, as the README's `helm install
// graceline deploy/helm/graceline` gives it.
const helmRelease = "graceline"

// TestInstalledWithHelm installs graceline with the Helm chart through the
// Helm SDK, as `helm install` does, with only the values a user of this
// node sets (its paths), and checks what the kustomize test checks: Ready
// pods, the agent's exact capabilities, a deleted pod's timeline from the
// in-cluster collector. Then `helm upgrade` with a changed value rolls the
// agent's DaemonSet in the middle of a pod's deletion, and every event of
// that pod reaches the collector exactly once. Then `helm uninstall` (and
// the namespace made by hand) leaves nothing.
func TestInstalledWithHelm(t *testing.T) {
	t.Parallel()
	installOne(t)
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	importGracelineImages(t, root)
	ch, err := cluster.GracelineChart(root)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := testCluster.Helm(installNamespace, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	values := testCluster.GracelineValues()
	t.Logf("the test bed's values: %v", values)
	readerToken := helmInstall(t, cfg, ch, values)

	ok := t.Run("the agent's and the collector's pods become Ready under the shipped securityContext", func(t *testing.T) {
		waitInstalledReady(t)
	})
	ok = ok && t.Run("the agent runs with exactly the listed capabilities, unprivileged, with its eBPF source live", func(t *testing.T) {
		ds, err := client.AppsV1().DaemonSets(installNamespace).Get(context.Background(), "graceline-agent", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get the installed DaemonSet: %v", err)
		}
		checkAgentPosture(t, ds)
	})
	ok = ok && t.Run("graceful, SIGTERM-ignoring and preStop pods' timelines, kernel, release and API rows included, come from the in-cluster collector through a port-forward", func(t *testing.T) {
		checkTimelinesThroughCollector(t, readerToken)
	})
	ok = ok && t.Run("helm upgrade with a changed value rolls the agent in the middle of a pod's deletion, and every event arrives once", func(t *testing.T) {
		upgraded := maps.Clone(values)
		agent := maps.Clone(values["agent"].(map[string]any))
		// A flag in the pod template, as an operator tunes one; the shorter
		// slack also lets the stopped shim below be reported sooner.
		agent["extraArgs"] = []any{"--stuck-slack=5s"}
		upgraded["agent"] = agent
		checkNothingLostAcross(t, readerToken, agentLabel, false, func() {
			u := action.NewUpgrade(cfg)
			u.Namespace = installNamespace
			u.Timeout = installTimeout
			if _, err := u.RunWithContext(context.Background(), helmRelease, ch, upgraded); err != nil {
				t.Fatalf("helm upgrade: %v", err)
			}
		})
	})
	ok = ok && t.Run("the agent's pod deleted in the middle of a pod's deletion: its successor resumes from the spool, and every event arrives once", func(t *testing.T) {
		checkNothingLostAcross(t, readerToken, agentLabel, false, func() { deleteInstalledPod(t, agentLabel) })
	})
	ok = ok && t.Run("the collector's pod deleted while a pod ends: the node's spool delivers every event once to its successor", func(t *testing.T) {
		checkNothingLostAcross(t, readerToken, collectorLabel, true, func() { deleteInstalledPod(t, collectorLabel) })
	})
	ok = ok && t.Run("a pod whose shim is SIGSTOPped in the middle of its deletion is reported stuck, with the shim as evidence", func(t *testing.T) {
		checkStoppedShim(t, readerToken)
	})
	if !ok {
		t.FailNow()
	}
	t.Run("helm uninstall leaves no graceline object, and the agent detaches its BPF programs and links on SIGTERM", func(t *testing.T) {
		checkUninstall(t, func(ctx context.Context) error { return helmUninstall(ctx, cfg) })
	})
}

// helmInstall does what the README says before `helm install`: the
// namespace, labelled for the agent's Pod Security level, and the token
// Secrets by hand; the node offers the collector's claim a hostPath
// volume. Then the chart is installed with values. It returns the reader
// token, and uninstalls when the test ends, whatever happened.
func helmInstall(t *testing.T, cfg *action.Configuration, ch *chart.Chart, values map[string]any) string {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() {
		helmUninstall(context.Background(), cfg)
		client.CoreV1().PersistentVolumes().Delete(context.Background(), "graceline-collector-data", metav1.DeleteOptions{})
	})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: installNamespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "privileged",
	}}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", installNamespace, err)
	}
	readerToken := createTokensAndVolume(t)
	i := action.NewInstall(cfg)
	i.ReleaseName = helmRelease
	i.Namespace = installNamespace
	i.Timeout = installTimeout
	if _, err := i.RunWithContext(ctx, ch, values); err != nil {
		t.Fatalf("helm install: %v", err)
	}
	return readerToken
}

// helmUninstall runs `helm uninstall` and waits for its objects to go,
// then deletes the namespace made by hand, with the Secrets in it, and
// waits until it is gone.
func helmUninstall(ctx context.Context, cfg *action.Configuration) error {
	u := action.NewUninstall(cfg)
	u.Wait = true
	u.Timeout = installTimeout
	if _, err := u.Run(helmRelease); err != nil {
		return fmt.Errorf("helm uninstall: %w", err)
	}
	if err := client.CoreV1().Namespaces().Delete(ctx, installNamespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", installNamespace, err)
	}
	deadline := time.Now().Add(installTimeout)
	for {
		_, err := client.CoreV1().Namespaces().Get(ctx, installNamespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s still there after %s (err %v)", installNamespace, installTimeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// releasedByFile is a TERM trap that lets its pod end only once the test
// creates /go in the container: the pod stays in the middle of its
// deletion, SIGTERM received, for as long as the test needs, however long
// graceline takes to restart.
const releasedByFile = "trap 'until [ -e /go ]; do sleep 0.2; done; exit 0' TERM; sleep 3600 & wait"

// checkNothingLostAcross deletes a pod and, once the collector has its
// SIGTERM (sent while the first agent ran), calls restart, which replaces
// graceline's pod with the label replaced, and waits for its successor to
// be Ready. The pod ends then, under the new agent: a process's exit while
// no agent runs is seen by no one, and the agent's spool cannot hold what
// it never saw. With endEarly the pod ends as soon as restart returns
// instead, while the collector is away, so that its events wait in the
// node's spool. Either way its timeline must have every row, and each event
// once: the spool carries what was not delivered, and the collector stores
// a resent event once.
func checkNothingLostAcross(t *testing.T, readerToken, replaced string, endEarly bool, restart func()) {
	ctx := context.Background()
	ns := newNamespace(t, "restart")
	pod, pid := startTrapping(t, busyboxPod(ns, "across", releasedByFile, 120))
	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}

	address := portForwardService(t, installNamespace, "graceline-collector", "grpc")
	waitFor(t, collectorTimeout, "the collector to have the SIGTERM", func() bool {
		out, err := installedCLI(address, readerToken, "timeline", ns+"/across", "--uid", string(pod.UID), "-o", "json")
		return err == nil && slices.ContainsFunc(parseJSONLines(t, out), signalTo(pid, "SIGTERM"))
	})
	before := installedPod(t, replaced).UID
	restart()
	release := func() {
		if err := os.WriteFile(filepath.Join(fmt.Sprintf("/proc/%d/root", pid), "go"), nil, 0o644); err != nil {
			t.Fatalf("let the pod end: %v", err)
		}
	}
	if endEarly {
		release()
	}
	var after types.UID
	waitFor(t, installTimeout, "a Ready successor of "+replaced, func() bool {
		pods, err := client.CoreV1().Pods(installNamespace).List(ctx, metav1.ListOptions{LabelSelector: replaced})
		if err != nil || len(pods.Items) != 1 || pods.Items[0].UID == before {
			return false
		}
		after = pods.Items[0].UID
		return podsReady(ctx, agentLabel) && podsReady(ctx, collectorLabel)
	})
	t.Logf("%s: pod %s replaced by %s", replaced, before, after)
	if !endEarly {
		release()
	}
	waitGone(t, pod)
	// The old forward went with the pod it reached, if that was replaced.
	address = portForwardService(t, installNamespace, "graceline-collector", "grpc")
	events := waitCollectedTimeline(t, address, readerToken, pod, pid, apiv1.VerdictGraceful, exitRow(0, apiv1.ReasonCompleted))
	counts, dups := countEvents(events)
	t.Logf("events of pod across, by kind: %v", counts)
	if len(dups) > 0 {
		t.Errorf("events stored more than once:\n%s", strings.Join(dups, "\n"))
	}
}

// deleteInstalledPod deletes the one installed pod with the label, as
// `kubectl delete pod` does; its controller makes another.
func deleteInstalledPod(t *testing.T, label string) {
	t.Helper()
	p := installedPod(t, label)
	if err := client.CoreV1().Pods(installNamespace).Delete(context.Background(), p.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod %s: %v", p.Name, err)
	}
}

// countEvents counts a timeline's events by kind, and lists those that
// are there more than once: the same kind, source, container, process,
// signal, target and path, whatever their times. A termination has each
// such event once; an agent that resent one with a new time, or re-derived
// it after a restart, would show here.
func countEvents(events []*apiv1.Event) (map[string]int, []string) {
	counts := map[string]int{}
	seen := map[string]int{}
	for _, e := range events {
		counts[e.Kind]++
		// The target's thread too: one signal's delivery to a process's
		// threads may take more than one row.
		key := fmt.Sprintf("%s source=%s node=%s container=%s pid=%d signal=%d target=%d tid=%d path=%s",
			e.Kind, e.Source, e.Node, e.GetContainer().GetName(), e.GetProcess().GetPid(), e.GetSignal().GetNumber(), e.GetTarget().GetPid(), e.GetTarget().GetTid(), e.GetPath())
		if e.Kind == apiv1.KindTerminationReadiness {
			// A container's readiness is reported again on each change of
			// its prediction: those reports differ in their time.
			key += " at=" + e.GetTime().AsTime().Format(time.RFC3339Nano)
		}
		seen[key]++
	}
	var dups []string
	for key, n := range seen {
		if n > 1 {
			dups = append(dups, fmt.Sprintf("%dx %s", n, key))
		}
	}
	slices.Sort(dups)
	return counts, dups
}

// checkStoppedShim deletes a pod that ignores SIGTERM and, once the
// collector has the SIGTERM, stops the pod's shim (the container's parent)
// with SIGSTOP: the kubelet's StopContainer then hangs past the grace
// period, and the installed agent must report the pod stuck with the shim
// as evidence, through the collector, in the timeline and in `kubectl
// graceline stuck`. SIGCONT lets the deletion finish.
func checkStoppedShim(t *testing.T, readerToken string) {
	ctx := context.Background()
	ns := newNamespace(t, "shim")
	pod, pid := startTrapping(t, busyboxPod(ns, "stuck", ignoresTerm, 3))
	shim := parentPid(int(pid))
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", shim)); !strings.HasPrefix(string(comm), "containerd-shim") {
		t.Fatalf("the parent of the container's pid %d is %d (%q), not its shim", pid, shim, comm)
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	address := portForwardService(t, installNamespace, "graceline-collector", "grpc")
	timeline := func() []*apiv1.Event {
		out, err := installedCLI(address, readerToken, "timeline", ns+"/stuck", "--uid", string(pod.UID), "-o", "json")
		if err != nil {
			return nil
		}
		return parseJSONLines(t, out)
	}
	waitFor(t, collectorTimeout, "the collector to have the SIGTERM", func() bool {
		return slices.ContainsFunc(timeline(), signalTo(pid, "SIGTERM"))
	})
	if err := syscall.Kill(shim, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop the shim: %v", err)
	}
	continued := false
	defer func() {
		if !continued {
			syscall.Kill(shim, syscall.SIGCONT)
		}
	}()
	const want = "is stopped: it cannot act"
	var stuck *apiv1.Event
	waitFor(t, collectorTimeout, "a stuck report naming the stopped shim", func() bool {
		stuck = findWhere(timeline(), apiv1.KindStuck, func(e *apiv1.Event) bool {
			return strings.Contains(strings.Join(e.Evidence, "\n"), want)
		})
		return stuck != nil
	})
	t.Logf("stuck: blocking_phase %s, evidence:\n%s", stuck.BlockingPhase, strings.Join(stuck.Evidence, "\n"))
	if stuck.BlockingPhase != "stop_signal" {
		t.Errorf("stuck blocking_phase %q, want stop_signal", stuck.BlockingPhase)
	}
	out, err := installedCLI(address, readerToken, "stuck", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl graceline stuck -n %s:\n%s", ns, out)
	if !strings.Contains(out, "stuck") || !strings.Contains(out, want) {
		t.Errorf("kubectl graceline stuck does not show pod stuck with %q", want)
	}
	syscall.Kill(shim, syscall.SIGCONT)
	continued = true
	waitGone(t, pod)
}
