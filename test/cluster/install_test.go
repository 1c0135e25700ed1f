package cluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// The installed graceline, as the base names it.
const (
	installNamespace = "graceline"
	agentLabel       = "app.kubernetes.io/name=graceline-agent"
	collectorLabel   = "app.kubernetes.io/name=graceline-collector"
	installTimeout   = 3 * time.Minute
)

// TestInstalledWithKustomize installs graceline on the test bed the way a
// user does, and checks what only a real install shows:
//   - images built by `make images` (hack/images) and imported into the
//     node's containerd under the manifests' names;
//   - the namespace and the collector's token Secret made by hand, as the README says,
//     then the containerd overlay rendered by kustomize (krusty) with the
//     node's paths patched in, and applied server-side through the API;
//   - the collector's storage a hostPath PersistentVolume;
//   - the agent and collector pods Ready under the shipped securityContext,
//     the agent with exactly its listed capabilities and its eBPF live;
//   - a pod deleted while graceline runs as pods, its timeline read from the
//     in-cluster collector through a port-forward with kubectl-graceline;
//   - then `kubectl delete -k`: no graceline object is left, the agent
//     exits on its SIGTERM, and none of its BPF programs or links survive.
func TestInstalledWithKustomize(t *testing.T) {
	t.Parallel()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	installOne(t)
	importGracelineImages(t, root)
	objs, overlay, err := testCluster.RenderGraceline(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the test bed's kustomization:\n%s", overlay)
	readerToken := install(t, objs)

	ok := t.Run("the agent's and the collector's pods become Ready under the shipped securityContext", func(t *testing.T) {
		waitInstalledReady(t)
	})
	ok = ok && t.Run("the agent runs with exactly the listed capabilities, unprivileged, with its eBPF source live", func(t *testing.T) {
		checkAgentPosture(t, renderedAgent(t, objs))
	})
	var ns string
	ok = ok && t.Run("graceful, SIGTERM-ignoring and preStop pods' timelines, kernel, release and API rows included, come from the in-cluster collector through a port-forward", func(t *testing.T) {
		ns = checkTimelinesThroughCollector(t, readerToken)
	})
	ok = ok && t.Run("kubectl graceline ui --port-forward --open forwards to the in-cluster collector's web UI with only the kubeconfig, and the UI signs in and lists those pods", func(t *testing.T) {
		checkUIThroughPortForward(t, readerToken, ns)
	})
	if !ok {
		t.FailNow()
	}
	t.Run("uninstalling leaves no graceline object, and the agent detaches its BPF programs and links on SIGTERM", func(t *testing.T) {
		checkUninstall(t, func(ctx context.Context) error { return testCluster.Delete(ctx, installTimeout, objs...) })
	})
}

// install does what the README's "Installing on a cluster" says: the
// namespace (the rendered one, applied first), the two token Secrets, and
// `kubectl apply -k`, here server-side. The node offers the collector's
// claim a hostPath volume. It returns the reader token, and uninstalls
// when the test ends, whatever happened.
func install(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() {
		testCluster.Delete(context.Background(), installTimeout, objs...)
		client.CoreV1().PersistentVolumes().Delete(context.Background(), "graceline-collector-data", metav1.DeleteOptions{})
	})
	i := slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == "Namespace" })
	if i < 0 || objs[i].GetName() != installNamespace {
		t.Fatalf("the rendering has no namespace %s", installNamespace)
	}
	if err := testCluster.Apply(ctx, "graceline-test", objs[i]); err != nil {
		t.Fatal(err)
	}
	readerToken := createTokensAndVolume(t)
	if err := testCluster.Apply(ctx, "graceline-test", objs...); err != nil {
		t.Fatal(err)
	}
	return readerToken
}

// createTokensAndVolume makes what the README has a user make before
// either install: the collector's token Secret, with the reader token only
// (each agent presents its pod's node-bound ServiceAccount token, which
// the collector reviews), and, since the test bed has no provisioner, a
// hostPath volume for the collector's claim. It returns the reader token.
func createTokensAndVolume(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	readerToken := randomHex(t)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: installNamespace, Name: "graceline-collector-tokens"},
		StringData: map[string]string{"tokens": fmt.Sprintf("reader %s\n", readerToken)},
	}
	if _, err := client.CoreV1().Secrets(installNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Secret %s: %v", s.Name, err)
	}
	// The collector's user and group (the Deployment's runAsUser).
	if _, err := testCluster.HostPathVolume(ctx, "graceline-collector-data", "10Gi", 65532, installNamespace, "graceline-collector-data"); err != nil {
		t.Fatal(err)
	}
	return readerToken
}

// waitInstalledReady waits until the DaemonSet's and the Deployment's pods
// are Ready; on a timeout it says where each pod is.
func waitInstalledReady(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(installTimeout)
	for {
		agentReady, collectorReady := podsReady(ctx, agentLabel), podsReady(ctx, collectorLabel)
		if agentReady && collectorReady {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, agent ready %v, collector ready %v:\n%s", installTimeout, agentReady, collectorReady, installedPodsState(ctx))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// podsReady reports whether the installed pods with the label exist and
// are all Ready.
func podsReady(ctx context.Context, label string) bool {
	pods, err := client.CoreV1().Pods(installNamespace).List(ctx, metav1.ListOptions{LabelSelector: label})
	if err != nil || len(pods.Items) == 0 {
		return false
	}
	for _, p := range pods.Items {
		if !slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
			return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
		}) {
			return false
		}
	}
	return true
}

// installedPodsState describes the installed pods, their containers'
// states and the namespace's events, for a failure message.
func installedPodsState(ctx context.Context) string {
	var b strings.Builder
	pods, _ := client.CoreV1().Pods(installNamespace).List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s: phase %s\n", p.Name, p.Status.Phase)
		for _, c := range p.Status.ContainerStatuses {
			fmt.Fprintf(&b, "  container %s: ready %v restarts %d state %+v last %+v\n", c.Name, c.Ready, c.RestartCount, c.State, c.LastTerminationState)
		}
	}
	events, _ := client.CoreV1().Events(installNamespace).List(ctx, metav1.ListOptions{})
	for _, e := range events.Items {
		fmt.Fprintf(&b, "event %s %s: %s %s\n", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
	}
	return b.String()
}

// renderedAgent is the DaemonSet as rendered, typed.
func renderedAgent(t *testing.T, objs []*unstructured.Unstructured) *appsv1.DaemonSet {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "DaemonSet" {
			var ds appsv1.DaemonSet
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &ds); err != nil {
				t.Fatalf("decode the rendered DaemonSet: %v", err)
			}
			return &ds
		}
	}
	t.Fatal("the rendering has no DaemonSet")
	return nil
}

// installedPod returns the one running pod with the label.
func installedPod(t *testing.T, label string) *corev1.Pod {
	t.Helper()
	pods, err := client.CoreV1().Pods(installNamespace).List(context.Background(), metav1.ListOptions{LabelSelector: label})
	if err != nil {
		t.Fatalf("list pods %s: %v", label, err)
	}
	if len(pods.Items) != 1 {
		t.Fatalf("%d pods %s, want 1:\n%s", len(pods.Items), label, installedPodsState(context.Background()))
	}
	return &pods.Items[0]
}

// checkAgentPosture compares the agent's process with what the manifest
// asks for: its effective, permitted and bounding capability sets are
// exactly the added ones (all others dropped), it cannot gain more
// (no_new_privs), and its container is not privileged. The agent's own log,
// read through the API as `kubectl logs` does, must list eBPF among its
// live sources: its programs loaded and attached with these capabilities.
func checkAgentPosture(t *testing.T, ds *appsv1.DaemonSet) {
	sc := ds.Spec.Template.Spec.Containers[0].SecurityContext
	if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Fatalf("the rendered agent does not drop ALL capabilities: %+v", sc)
	}
	var want uint64
	for _, c := range sc.Capabilities.Add {
		bit, ok := capabilityBits[string(c)]
		if !ok {
			t.Fatalf("capability %s of the manifest is not in this test's table", c)
		}
		want |= 1 << bit
	}
	pod := installedPod(t, agentLabel)
	if p := pod.Spec.Containers[0].SecurityContext.Privileged; p == nil || *p {
		t.Errorf("the agent's container privileged = %v, want false", p)
	}
	pid := containerPid(t, pod)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the agent's status: %v", err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	t.Logf("agent pid %d: CapEff %s CapPrm %s CapBnd %s CapAmb %s NoNewPrivs %s Seccomp %s (manifest: %v, %016x)",
		pid, fields["CapEff"], fields["CapPrm"], fields["CapBnd"], fields["CapAmb"], fields["NoNewPrivs"], fields["Seccomp"], sc.Capabilities.Add, want)
	for _, set := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if got := fields[set]; got != fmt.Sprintf("%016x", want) {
			t.Errorf("%s %s, want %016x: exactly %v", set, got, want, sc.Capabilities.Add)
		}
	}
	if fields["CapAmb"] != "0000000000000000" || fields["NoNewPrivs"] != "1" {
		t.Errorf("CapAmb %s NoNewPrivs %s, want none and 1 (allowPrivilegeEscalation: false)", fields["CapAmb"], fields["NoNewPrivs"])
	}

	var sources string
	waitFor(t, time.Minute, "the agent's log to list its sources", func() bool {
		b, err := client.CoreV1().Pods(installNamespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "agent"}).DoRaw(context.Background())
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "msg=sources") || strings.Contains(line, "eBPF source unavailable") {
				sources += line + "\n"
			}
		}
		return strings.Contains(sources, "msg=sources")
	})
	t.Logf("agent log (kubectl logs):\n%s", sources)
	if !strings.Contains(sources, "live=") || !slices.Contains(strings.Split(liveSources(sources), ","), "ebpf") {
		t.Errorf("the agent's eBPF source is not live under the shipped capabilities")
	}
}

// capabilityBits are the kernel's numbers of the capabilities a manifest
// may list (linux/capability.h).
var capabilityBits = map[string]uint{
	"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "KILL": 5, "SETGID": 6, "SETUID": 7,
	"NET_BIND_SERVICE": 10, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "SYS_CHROOT": 18, "SYS_PTRACE": 19,
	"SYS_ADMIN": 21, "SYS_RESOURCE": 24, "SYSLOG": 34, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}

// liveSources returns the value of live= in the agent's sources line.
func liveSources(log string) string {
	_, after, ok := strings.Cut(log, "live=")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, " ")
	return v
}

// containerPid finds the pid of a pod's first container: the process in
// the container's cgroup (named by its ID) whose parent is not.
func containerPid(t *testing.T, pod *corev1.Pod) int {
	t.Helper()
	if len(pod.Status.ContainerStatuses) == 0 {
		t.Fatalf("pod %s has no container status", pod.Name)
	}
	_, id, _ := strings.Cut(pod.Status.ContainerStatuses[0].ContainerID, "://")
	if id == "" {
		t.Fatalf("pod %s's container has no ID: %+v", pod.Name, pod.Status.ContainerStatuses[0])
	}
	pids := map[int]bool{}
	cgroups, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, f := range cgroups {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), id) {
			var pid int
			fmt.Sscanf(strings.TrimPrefix(f, "/proc/"), "%d", &pid)
			pids[pid] = true
		}
	}
	for pid := range pids {
		if !pids[parentPid(pid)] {
			return pid
		}
	}
	t.Fatalf("no process in the cgroup of container %s of pod %s", id, pod.Name)
	return 0
}

// parentPid reads a process's PPid, or 0.
func parentPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	var ppid int
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &ppid)
		}
	}
	return ppid
}

// installedDeletions are the pods deleted while graceline runs as pods, each
// with the verdict and the cause its summary must give and the rows only
// its kind of ending has.
var installedDeletions = []struct {
	name    string
	script  string
	grace   int64
	preStop []string
	verdict string
	cause   string
	// rows are the rows this ending adds to those every deletion has
	// (missingRows), given the container's PID 1.
	rows func(pid int32) []row
}{
	{
		name:    "graceful",
		script:  exitsOnTerm,
		grace:   30,
		verdict: apiv1.VerdictGraceful,
		cause:   apiv1.CauseExitedOnStopSignal,
		rows:    func(int32) []row { return []row{exitRow(0, apiv1.ReasonCompleted)} },
	},
	{
		name:    "ignores-term",
		script:  ignoresTerm,
		grace:   3,
		verdict: apiv1.VerdictKilled,
		cause:   apiv1.CauseSignalIgnored,
		rows: func(pid int32) []row {
			return []row{
				exitRow(137, apiv1.ReasonError),
				{fmt.Sprintf("kernel SIGKILL to pid %d", pid), func(e *apiv1.Event) bool {
					return e.Kind == apiv1.KindSignalGenerated && signalTo(pid, "SIGKILL")(e)
				}},
			}
		},
	},
	{
		name:    "prestop",
		script:  exitsOnTerm,
		grace:   30,
		preStop: []string{"sleep", "1"},
		verdict: apiv1.VerdictGraceful,
		cause:   apiv1.CauseExitedOnStopSignal,
		rows: func(int32) []row {
			return []row{
				exitRow(0, apiv1.ReasonCompleted),
				{"prestop_exec of sleep 1", func(e *apiv1.Event) bool {
					return e.Kind == apiv1.KindPreStopExec && strings.Join(e.GetProcess().GetArgv(), " ") == "sleep 1"
				}},
			}
		},
	},
}

// checkTimelinesThroughCollector deletes, at once, a pod that exits on
// SIGTERM, one that ignores it and is killed when its 3 s run out, and one
// whose preStop hook runs first. Then it asks the in-cluster collector for
// their timelines as a user does: `kubectl port-forward
// svc/graceline-collector 7070` through the API server and the kubelet,
// then `kubectl graceline timeline -o json` with a reader token. The agent
// pod sent the node's rows over the Service's name, which the cluster DNS
// resolved and kube-proxy routed; the collector pod added the API's rows
// from its watches, through the kubernetes Service. It returns the pods'
// namespace.
func checkTimelinesThroughCollector(t *testing.T, readerToken string) string {
	ctx := context.Background()
	ns := newNamespace(t, "installed")
	pods := make([]*corev1.Pod, len(installedDeletions))
	pids := make([]int32, len(installedDeletions))
	for i, d := range installedDeletions {
		pod := busyboxPod(ns, d.name, d.script, d.grace)
		if d.preStop != nil {
			pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: d.preStop}}}
		}
		pods[i], pids[i] = startTrapping(t, pod)
	}
	sent := time.Now()
	for _, pod := range pods {
		if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete pod %s: %v", pod.Name, err)
		}
	}
	for _, pod := range pods {
		waitGone(t, pod)
	}

	address := portForwardService(t, installNamespace, "graceline-collector", "grpc")
	for i, d := range installedDeletions {
		pod, pid := pods[i], pids[i]
		events := waitCollectedTimeline(t, address, readerToken, pod, pid, d.verdict, d.rows(pid)...)
		table, err := installedCLI(address, readerToken, "timeline", ns+"/"+pod.Name, "--uid", string(pod.UID))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("kubectl graceline timeline (delete sent %s), through the port-forward:\n%s", sent.Format(time.RFC3339Nano), table)
		s := findWhere(events, apiv1.KindTerminationSummary, func(e *apiv1.Event) bool { return e.Source == apiv1.SourceAPI })
		if causes := s.GetCauses(); len(causes) != 1 || causes[0].Cause != d.cause || causes[0].Advice == "" {
			t.Errorf("%s: summary's causes %v, want one %s with advice", pod.Name, causes, d.cause)
		}
		for _, e := range events {
			if e.Source != apiv1.SourceAPI && e.Node != testCluster.NodeName {
				t.Errorf("%s: %s from node %q, want %s", pod.Name, e.Kind, e.Node, testCluster.NodeName)
			}
		}
		if _, dups := countEvents(events); len(dups) > 0 {
			t.Errorf("%s: events stored more than once:\n%s", pod.Name, strings.Join(dups, "\n"))
		}
	}
	return ns
}

// startTrapping creates pod, waits until it runs and its PID 1 has set its
// SIGTERM disposition (a trap, or an ignore), and returns it with that
// PID 1's host pid. A SIGTERM before the shell set its trap would be
// dropped by the PID namespace's init, which is another test's story.
func startTrapping(t *testing.T, pod *corev1.Pod) (*corev1.Pod, int32) {
	t.Helper()
	ctx := context.Background()
	created, err := client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	waitFor(t, runningTimeout, "pod "+pod.Name+" running", func() bool {
		created, err = client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		return err == nil && created.Status.Phase == corev1.PodRunning && len(created.Status.ContainerStatuses) == 1
	})
	pid := int32(containerPid(t, created))
	waitFor(t, 30*time.Second, fmt.Sprintf("pid %d to trap SIGTERM", pid), func() bool { return harness.HandlesSignal(pid, syscall.SIGTERM) })
	return created, pid
}

// waitCollectedTimeline reads a deleted pod's timeline from the collector
// at address with kubectl-graceline, until it has every row missingRows
// asks for, or fails the test after collectorTimeout.
func waitCollectedTimeline(t *testing.T, address, readerToken string, pod *corev1.Pod, pid int32, verdict string, extra ...row) []*apiv1.Event {
	t.Helper()
	var events []*apiv1.Event
	var missing []string
	deadline := time.Now().Add(collectorTimeout)
	for {
		out, err := installedCLI(address, readerToken, "timeline", pod.Namespace+"/"+pod.Name, "--uid", string(pod.UID), "-o", "json")
		if err == nil {
			events = parseJSONLines(t, out)
			if missing = missingRows(events, pid, verdict, extra...); len(missing) == 0 {
				return events
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the in-cluster collector's timeline of %s lacks %v (last error %v):\n%s", collectorTimeout, pod.Name, missing, err, describe(events))
		}
		time.Sleep(time.Second)
	}
}

// row is one row a collected timeline must have, by what it is called in
// a failure and how it is recognised.
type row struct {
	what string
	ok   func(*apiv1.Event) bool
}

// exitRow is the runtime's container_exited with the exit code and reason.
func exitRow(code int32, reason string) row {
	return row{fmt.Sprintf("container_exited %d %s", code, reason), func(e *apiv1.Event) bool {
		return e.Kind == apiv1.KindContainerExited && e.GetExitCode() == code && e.GetReason() == reason
	}}
}

// missingRows lists the rows of extra, and those every deletion's timeline
// must have, that events lacks: the API's delete request and removal; the
// runtime's SIGTERM to the container's PID 1 and its exit, from the kernel;
// the runtime's removal of the container and of the sandbox; the
// container's cgroup, network namespace and volume mounts released; and
// the collector's final summary, with the API's part, saying verdict.
func missingRows(events []*apiv1.Event, pid int32, verdict string, extra ...row) []string {
	api := func(kind string) func(*apiv1.Event) bool {
		return func(e *apiv1.Event) bool { return e.Kind == kind && e.Source == apiv1.SourceAPI }
	}
	any := func(kind string) row {
		return row{kind, func(e *apiv1.Event) bool { return e.Kind == kind }}
	}
	rows := append([]row{
		{"API delete_requested", api(apiv1.KindDeleteRequested)},
		{fmt.Sprintf("kernel SIGTERM to pid %d", pid), func(e *apiv1.Event) bool { return e.Kind == apiv1.KindSignalGenerated && signalTo(pid, "SIGTERM")(e) }},
		{fmt.Sprintf("kernel exit of pid %d", pid), func(e *apiv1.Event) bool {
			return e.Kind == apiv1.KindProcessExited && e.GetProcess().GetPid() == pid
		}},
		any(apiv1.KindContainerExited),
		any(apiv1.KindContainerRemoved),
		any(apiv1.KindSandboxRemoved),
		any(apiv1.KindCgroupRemoved),
		any(apiv1.KindNetNSReleased),
		any(apiv1.KindMountsReleased),
		{"API pod_deleted", api(apiv1.KindPodDeleted)},
		{"final " + verdict + " termination_summary", func(e *apiv1.Event) bool {
			return api(apiv1.KindTerminationSummary)(e) && e.Verdict == verdict
		}},
	}, extra...)
	var missing []string
	for _, r := range rows {
		if !slices.ContainsFunc(events, r.ok) {
			missing = append(missing, r.what)
		}
	}
	return missing
}

// installedCLI runs kubectl-graceline against a collector address with a
// reader token, through the environment, as the README shows.
func installedCLI(address, token string, args ...string) (string, error) {
	cmd := exec.Command(cliBin, args...)
	cmd.Env = append(os.Environ(), "GRACELINE_COLLECTOR="+address, "GRACELINE_TOKEN="+token)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl-graceline %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// parseJSONLines reads kubectl-graceline's -o json.
func parseJSONLines(t *testing.T, out string) []*apiv1.Event {
	t.Helper()
	var events []*apiv1.Event
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		e := &apiv1.Event{}
		if err := apiv1.UnmarshalJSONLine([]byte(line), e); err != nil {
			t.Fatalf("read kubectl-graceline's JSON line %q: %v", line, err)
		}
		events = append(events, e)
	}
	return events
}

// checkUninstall uninstalls graceline with uninstall (`kubectl delete -k`
// or `helm uninstall` and the namespace), deletes the volume the test bed
// gave, and checks that nothing is left:
// none of the objects, no pod of the namespace, and none of the BPF
// programs, links or maps the agent held. The agent must leave on the
// SIGTERM its pod's deletion sends, with exit code 0, before its grace
// period ends (a SIGKILL would make it 137).
func checkUninstall(t *testing.T, uninstall func(context.Context) error) {
	ctx := context.Background()
	agentPod := installedPod(t, agentLabel)
	pid := containerPid(t, agentPod)
	held, err := bpfObjects(pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(held.progs) == 0 || len(held.links) == 0 {
		t.Fatalf("the agent (pid %d) holds no BPF programs or links before the uninstall: %+v", pid, held)
	}
	t.Logf("the agent (pid %d) holds BPF programs %v, links %v, maps %v", pid, held.progs, held.links, held.maps)

	// The kubelet reports the container's end before the pod is removed.
	w, err := client.CoreV1().Pods(installNamespace).Watch(ctx, metav1.ListOptions{LabelSelector: agentLabel, ResourceVersion: agentPod.ResourceVersion})
	if err != nil {
		t.Fatalf("watch the agent's pod: %v", err)
	}
	defer w.Stop()
	ended := make(chan *corev1.ContainerStateTerminated, 1)
	go func() {
		var last *corev1.ContainerStateTerminated
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Terminated != nil {
				last = p.Status.ContainerStatuses[0].State.Terminated
			}
		}
		ended <- last
	}()

	began := time.Now()
	if err := uninstall(ctx); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, installedPodsState(ctx))
	}
	if err := client.CoreV1().PersistentVolumes().Delete(ctx, "graceline-collector-data", metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete the collector's volume: %v", err)
	}
	t.Logf("uninstalled in %s", time.Since(began).Round(time.Millisecond))
	if _, err := client.CoreV1().Namespaces().Get(ctx, installNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s still there (err %v)", installNamespace, err)
	}
	// The cluster-scoped objects, found by the label every object carries.
	part := metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=graceline"}
	for kind, count := range map[string]func() (int, error){
		"ClusterRoles": func() (int, error) {
			l, err := client.RbacV1().ClusterRoles().List(ctx, part)
			return len(l.Items), err
		},
		"ClusterRoleBindings": func() (int, error) {
			l, err := client.RbacV1().ClusterRoleBindings().List(ctx, part)
			return len(l.Items), err
		},
		"PriorityClasses": func() (int, error) {
			l, err := client.SchedulingV1().PriorityClasses().List(ctx, part)
			return len(l.Items), err
		},
	} {
		if n, err := count(); err != nil || n != 0 {
			t.Errorf("graceline %s left: %d (err %v)", kind, n, err)
		}
	}

	w.Stop()
	switch last := <-ended; {
	case last == nil:
		t.Errorf("the agent's pod went without a terminated state")
	case last.ExitCode != 0:
		t.Errorf("the agent ended with exit code %d (%s %s), want 0: it did not leave on SIGTERM", last.ExitCode, last.Reason, last.Message)
	default:
		t.Logf("the agent exited %d (%s)", last.ExitCode, last.Reason)
	}
	// The kernel frees a program once its last link and descriptor are
	// closed, a moment after the process is gone.
	deadline := time.Now().Add(30 * time.Second)
	for left := held.stillThere(); !left.empty(); left = held.stillThere() {
		if time.Now().After(deadline) {
			t.Fatalf("30s after the uninstall the kernel still has the agent's BPF programs %v, links %v, maps %v", left.progs, left.links, left.maps)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// randomHex is a fresh 32-byte token, as `openssl rand -hex 32` gives.
func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
