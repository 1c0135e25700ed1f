package cluster_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

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
