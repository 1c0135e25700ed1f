package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// TestAggregatedCLI runs kubectl-graceline as a user who has nothing but a
// kubeconfig: no --collector, no token, no port-forward. Its queries go
// through the API server to the aggregated API that the host collector
// serves, as the kubeconfig's user. It also runs kubectl itself on the same
// API: the plugin through kubectl, and `kubectl get podterminations
// --watch`.
func TestAggregatedCLI(t *testing.T) {
	registerAPIService(t)
	ns := newNamespace(t, "aggcli")
	pod := createRunning(t, busyboxPod(ns, "cli-leaves", exitsOnTerm, 5))
	deleteAndWaitGone(t, pod)

	var listed string
	waitFor(t, collectorTimeout, "the deleted pod in kubectl graceline list -n "+ns, func() bool {
		r := kubeCLI(t, "list", "-n", ns)
		listed = r.stdout
		return r.err == nil && strings.Contains(r.stdout, pod.Name) && strings.Contains(r.stdout, "graceful")
	})
	t.Logf("kubectl graceline list -n %s:\n%s", ns, listed)

	t.Run("list -o name names the object as kubectl does", func(t *testing.T) {
		r := kubeCLI(t, "list", "-n", ns, "-o", "name")
		if want := "podtermination.graceline.dev/" + pod.Name + "\n"; r.err != nil || r.stdout != want {
			t.Errorf("list -o name: %v, %q; want %q", r.err, r.stdout, want)
		}
	})

	t.Run("list -o jsonl has the pod's summary", func(t *testing.T) {
		r := kubeCLI(t, "list", "-n", ns, "-o", "jsonl")
		if r.err != nil {
			t.Fatalf("%v: %s", r.err, r.stderr)
		}
		events := parseJSONLines(t, r.stdout)
		if len(events) != 1 || events[0].Kind != apiv1.KindTerminationSummary || events[0].GetPod().GetUid() != string(pod.UID) || events[0].Verdict != apiv1.VerdictGraceful {
			t.Errorf("list -o jsonl = %s, want the pod's graceful termination_summary", r.stdout)
		}
	})

	t.Run("timeline shows the pod's termination from the node and the API", func(t *testing.T) {
		r := kubeCLI(t, "timeline", ns+"/"+pod.Name)
		if r.err != nil {
			t.Fatalf("%v: %s", r.err, r.stderr)
		}
		for _, want := range []string{"POD " + ns + "/" + pod.Name, "VERDICT graceful", "signal_generated", "pod_deleted"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("timeline lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("the plugin runs through kubectl on the same kubeconfig", func(t *testing.T) {
		r := kubectl(t, "graceline", "list", "-n", ns)
		if r.err != nil || !strings.Contains(r.stdout, pod.Name) {
			t.Errorf("kubectl graceline list: %v\n%s%s", r.err, r.stdout, r.stderr)
		}
	})

	t.Run("stuck answers for the namespace", func(t *testing.T) {
		r := kubeCLI(t, "stuck", "-n", ns)
		if r.err != nil || !strings.Contains(r.stdout, "no stuck pods") {
			t.Errorf("stuck -n %s: %v\n%s%s", ns, r.err, r.stdout, r.stderr)
		}
	})

	t.Run("report answers through the API as through --collector", func(t *testing.T) {
		createDeployment(t, ns, "cli-report", map[string]string{"app": "cli-report"}, 1, 5)
		owned := runningPods(t, ns, "cli-report", 1)
		scaleTo(t, ns, "cli-report", 0)
		waitGone(t, &owned[0])
		args := []string{"report", "-n", ns, "--since", "1h", "-o", "json"}
		var viaAPI kubeResult
		var viaCollector string
		// The report counts a pod once its final summary is stored; both
		// ways read the same database, so they agree once it is.
		waitFor(t, collectorTimeout, "the Deployment's finished pod in both reports", func() bool {
			viaAPI = kubeCLI(t, args...)
			out, err := collector.cli(args...)
			viaCollector = out
			return viaAPI.err == nil && err == nil && finishedOf(t, viaAPI.stdout, "cli-report") == "1" && viaAPI.stdout == viaCollector
		})
		t.Logf("kubectl graceline report -n %s -o json:\n%s", ns, viaAPI.stdout)
		table := kubeCLI(t, "report", "-n", ns, "--since", "1h")
		want, err := collector.cli("report", "-n", ns, "--since", "1h")
		if table.err != nil || err != nil || table.stdout != want {
			t.Errorf("report tables differ: through the API (%v)\n%s\nthrough --collector (%v)\n%s", table.err, table.stdout, err, want)
		}
		r := kubectl(t, "get", "workloadreports", "-n", ns, "--field-selector", "status.window=1h")
		if r.err != nil || !strings.Contains(r.stdout, "deployment.cli-report") {
			t.Errorf("kubectl get workloadreports: %v\n%s%s", r.err, r.stdout, r.stderr)
		}
	})

	t.Run("timeline --uid shows an earlier pod of a reused name, as through --collector", func(t *testing.T) {
		again := createRunning(t, busyboxPod(ns, pod.Name, exitsOnTerm, 5))
		deleteAndWaitGone(t, again)
		waitFor(t, collectorTimeout, "the second "+pod.Name+" as the latest of its name", func() bool {
			r := kubeCLI(t, "timeline", ns+"/"+pod.Name, "-o", "json")
			return r.err == nil && strings.Contains(r.stdout, string(again.UID)) && strings.Contains(r.stdout, apiv1.KindPodDeleted)
		})
		for _, output := range [][]string{{"-o", "json"}, nil} {
			args := append([]string{"timeline", ns + "/" + pod.Name, "--uid", string(pod.UID)}, output...)
			viaAPI := kubeCLI(t, args...)
			viaCollector, err := collector.cli(args...)
			if viaAPI.err != nil || err != nil {
				t.Fatalf("%v: through the API %v %s; through --collector %v", args, viaAPI.err, viaAPI.stderr, err)
			}
			if viaAPI.stdout != viaCollector {
				t.Errorf("%v differs: through the API\n%s\nthrough --collector\n%s", args, viaAPI.stdout, viaCollector)
			}
			if !strings.Contains(viaAPI.stdout, string(pod.UID)[:4]) || strings.Contains(viaAPI.stdout, string(again.UID)) {
				t.Errorf("%v shows another pod than uid %s:\n%s", args, pod.UID, viaAPI.stdout)
			}
		}
		other := newNamespace(t, "aggcliuid")
		r := kubeCLI(t, "timeline", other+"/"+pod.Name, "--uid", string(pod.UID))
		if r.err == nil || !strings.Contains(r.stderr, "no termination of pod "+other+"/"+pod.Name) {
			t.Errorf("the uid asked for under namespace %s: %v, stderr %q; want not found", other, r.err, r.stderr)
		}
	})

	t.Run("a user who may view one namespace gets its report, and is refused another's", func(t *testing.T) {
		ctx := context.Background()
		other := newNamespace(t, "aggcliy")
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "carol-view", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "carol"}},
		}
		if _, err := client.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The view role gains graceline's rules when the controller
		// manager aggregates them.
		var own kubeResult
		waitFor(t, time.Minute, "carol reading the report of "+ns, func() bool {
			own = kubeCLI(t, "report", "-n", ns, "--since", "1h", "--as", "carol")
			return own.err == nil
		})
		if !strings.Contains(own.stdout, "Deployment/cli-report") {
			t.Errorf("carol's report of %s lacks Deployment/cli-report:\n%s", ns, own.stdout)
		}
		for _, args := range [][]string{{"-n", other}, {"-A"}} {
			r := kubeCLI(t, append([]string{"report", "--since", "1h", "--as", "carol"}, args...)...)
			if r.err == nil || !strings.Contains(r.stderr, "forbidden") {
				t.Errorf("carol's report %v: %v, stderr %q; want forbidden", args, r.err, r.stderr)
			}
		}
	})

	t.Run("completion through kubectl offers the deleted pods and the namespaces", func(t *testing.T) {
		installCompletion(t)
		r := kubectl(t, "__complete", "graceline", "timeline", "-n", ns, "cli-")
		if r.err != nil || !slices.Contains(strings.Split(r.stdout, "\n"), pod.Name) {
			t.Errorf("kubectl __complete graceline timeline -n %s cli-: %v\n%s%s\nwant %s offered", ns, r.err, r.stdout, r.stderr, pod.Name)
		}
		r = kubectl(t, "__complete", "graceline", "watch", ns+"/")
		if r.err != nil || !slices.Contains(strings.Split(r.stdout, "\n"), ns+"/"+pod.Name) {
			t.Errorf("kubectl __complete graceline watch %s/: %v\n%s%s\nwant %s/%s offered", ns, r.err, r.stdout, r.stderr, ns, pod.Name)
		}
		r = kubectl(t, "__complete", "graceline", "list", "-n", "aggcli-")
		if r.err != nil || !slices.Contains(strings.Split(r.stdout, "\n"), ns) {
			t.Errorf("kubectl __complete graceline list -n aggcli-: %v\n%s%s\nwant %s offered", r.err, r.stdout, r.stderr, ns)
		}
	})

	t.Run("a wrong context is an error that names it", func(t *testing.T) {
		for _, args := range [][]string{{"list", "-n", ns}, {"timeline", ns + "/" + pod.Name}, {"stuck"}, {"watch", "-A"}} {
			r := kubeCLI(t, append(args, "--context", "not-a-context")...)
			if r.err == nil || !strings.Contains(r.stderr, `"not-a-context"`) {
				t.Errorf("%v with a wrong context: %v, stderr %q; want an error naming the context", args, r.err, r.stderr)
			}
		}
	})

	t.Run("watch and kubectl get --watch see a new deletion", func(t *testing.T) {
		next := createRunning(t, busyboxPod(ns, "cli-watched", exitsOnTerm, 5))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cliOut, cliErr := &syncBuffer{}, &syncBuffer{}
		watch := exec.CommandContext(ctx, cliBin, "watch", "-n", ns, "-o", "json")
		watch.Env, watch.Stdout, watch.Stderr = kubeEnv(), cliOut, cliErr
		getOut, getErr := &syncBuffer{}, &syncBuffer{}
		get := exec.CommandContext(ctx, kubectlBin(), "get", "podterminations", "-n", ns, "--watch")
		get.Env, get.Stdout, get.Stderr = kubeEnv(), getOut, getErr
		for _, c := range []*exec.Cmd{watch, get} {
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			defer c.Wait()
		}
		// kubectl lists before it watches; the watch is in place once the
		// earlier pod's row is printed and the CLI says so.
		waitFor(t, collectorTimeout, "both watches in place", func() bool {
			return strings.Contains(cliErr.String(), "watching") && strings.Contains(getOut.String(), pod.Name)
		})
		deleteAndWaitGone(t, next)
		waitFor(t, collectorTimeout, "the new deletion in both watches", func() bool {
			return strings.Contains(cliOut.String(), next.Name) && strings.Contains(getOut.String(), next.Name)
		})
		cancel()
		t.Logf("kubectl get podterminations --watch:\n%s", getOut.String())
		for _, e := range parseJSONLines(t, cliOut.String()) {
			if e.GetPod().GetName() == next.Name && e.Kind != apiv1.KindTerminationSummary {
				t.Errorf("watch printed %s for %s, want its termination_summary", e.Kind, next.Name)
			}
		}
	})
}

// finishedOf reads the finished count of a Deployment from report -o json
// ("" when the report does not have it); protojson writes it as a string.
func finishedOf(t *testing.T, out, name string) string {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r struct {
			Workload struct{ Kind, Name string }
			Finished string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("report -o json line %q: %v", line, err)
		}
		if r.Workload.Kind == "Deployment" && r.Workload.Name == name {
			return r.Finished
		}
	}
	return ""
}

// installCompletion puts the plugin's completion executable next to the
// plugin, on the PATH of kubeEnv, where kubectl looks for it.
func installCompletion(t *testing.T) {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "cmd/kubectl-graceline/kubectl_complete-graceline"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(cliBin), "kubectl_complete-graceline"), b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// kubeResult is what one run of a command gave.
type kubeResult struct {
	stdout, stderr string
	err            error
}

// kubeEnv is the environment of a user with only a kubeconfig: the test
// cluster's admin one through $KUBECONFIG, no collector, no token, and a
// PATH where kubectl finds the plugin.
func kubeEnv() []string {
	return []string{"PATH=" + filepath.Dir(cliBin) + ":" + os.Getenv("PATH"), "HOME=" + tmpDir, "KUBECONFIG=" + testCluster.Kubeconfig}
}

// kubeCLI runs kubectl-graceline with kubeEnv.
func kubeCLI(t *testing.T, args ...string) kubeResult {
	t.Helper()
	return runKube(t, cliBin, args...)
}

// kubectl runs the tests' kubectl with kubeEnv.
func kubectl(t *testing.T, args ...string) kubeResult {
	t.Helper()
	return runKube(t, kubectlBin(), args...)
}

func kubectlBin() string { return filepath.Join(filepath.Dir(cliBin), "kubectl") }

func runKube(t *testing.T, bin string, args ...string) kubeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), collectorTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = kubeEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return kubeResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// syncBuffer is a buffer a command writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
