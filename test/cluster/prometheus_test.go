package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/graceline/graceline/test/harness"
)

// The shipped alerts and the one this test shortens.
const (
	shippedRules = "deploy/helm/graceline/files/prometheus-rules.yaml"
	stuckAlert   = "GracelinePodStuckTerminating"
	// testStuckFor replaces the stuck alert's for: long enough that the
	// alert is pending first, short enough for a test.
	testStuckFor = "5s"
	// promTimeout bounds how long Prometheus may take to show what the
	// collector counted: a scrape and a rule evaluation each second, after
	// the collector's final summary (its settle time and the node's).
	promTimeout = 3 * time.Minute
)

// TestPrometheusScrapesTheOutcomes runs Debian's prometheus against the
// collector with the shipped rules: after real deletions, the termination
// counter and the duration histogram's count must equal them, and a pod
// held by a finalizer must fire the stuck alert, then count once it goes.
func TestPrometheusScrapesTheOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prom := startPrometheus(t, collector.web)
	ns := newNamespace(t, "prom")

	const deleted = 3
	held := busyboxPod(ns, "held", exitsOnTerm, 2)
	held.Finalizers = []string{holdFinalizer}
	heldPod := createRunning(t, held)
	waitHandlesTerm(t, heldPod)
	var pods = []types.UID{heldPod.UID}
	for i := range deleted {
		p := createRunning(t, busyboxPod(ns, fmt.Sprintf("gone-%d", i), exitsOnTerm, 2))
		waitHandlesTerm(t, p)
		deleteAndWaitGone(t, p)
		pods = append(pods, p.UID)
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, heldPod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod %s: %v", heldPod.Name, err)
	}
	t.Logf("pods %v deleted; %s held by %s", pods, heldPod.Name, holdFinalizer)

	terminations := fmt.Sprintf(`sum(graceline_terminations_total{namespace=%q})`, ns)
	durations := fmt.Sprintf(`sum(graceline_termination_duration_seconds_count{namespace=%q})`, ns)
	prom.waitValue(t, terminations, deleted)
	prom.waitValue(t, durations, deleted)

	firing := fmt.Sprintf(`ALERTS{alertname=%q,alertstate="firing",namespace=%q,blocking_phase="finalizers"}`, stuckAlert, ns)
	waitFor(t, promTimeout, "Prometheus: "+firing, func() bool {
		r, err := prom.query(firing)
		return err == nil && len(r) == 1
	})
	// The held pod is no termination until it is gone.
	prom.waitValue(t, terminations, deleted)

	patch := []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`)
	if _, err := client.CoreV1().Pods(ns).Patch(ctx, heldPod.Name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("remove the finalizer: %v", err)
	}
	waitGone(t, heldPod)
	prom.waitValue(t, terminations, deleted+1)
	prom.waitValue(t, durations, deleted+1)
	stuck := fmt.Sprintf(`graceline_pods_stuck{namespace=%q}`, ns)
	waitFor(t, promTimeout, "Prometheus: no "+stuck, func() bool {
		r, err := prom.query(stuck)
		return err == nil && len(r) == 0
	})
}

// promProc is a prometheus server on loopback with its own data directory.
type promProc struct {
	addr string
	cmd  *exec.Cmd
	logs *harness.Buffer
}

// startPrometheus runs Debian's prometheus scraping the collector at
// target every second, with the shipped rules, the stuck alert's for
// shortened to testStuckFor. It stops with the test.
func startPrometheus(t *testing.T, target string) *promProc {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (%v): run hack/install-deps.sh, which installs Debian's prometheus package", err)
	}
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, shortenedRules(t, filepath.Join(root, shippedRules)), 0o600); err != nil {
		t.Fatal(err)
	}
	// honor_labels: the collector's namespace label is the pod's, as the
	// chart's PodMonitor keeps it.
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: graceline-collector
    honor_labels: true
    static_configs:
      - targets: [%q]
`, rules, target)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := &promProc{addr: addr, logs: &harness.Buffer{}}
	p.cmd = exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		p.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-exited
			t.Errorf("prometheus did not exit within 30s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", tail(p.logs.String(), 4000))
		}
	})
	// Ready, and the collector scraped at least once.
	waitFor(t, 30*time.Second, "prometheus scraping the collector", func() bool {
		select {
		case <-exited:
			t.Fatalf("prometheus exited at start: %v\n%s", p.cmd.ProcessState, p.logs.String())
		default:
		}
		r, err := p.query(`up{job="graceline-collector"} == 1`)
		return err == nil && len(r) == 1
	})
	return p
}

// shortenedRules renders the shipped rules with the stuck alert's for
// replaced by testStuckFor; every other rule is as shipped.
func shortenedRules(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string           `json:"name"`
			Rules []map[string]any `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(b, &doc); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	found := false
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r["alert"] == stuckAlert {
				r["for"], found = testStuckFor, true
			}
		}
	}
	if !found {
		t.Fatalf("%s has no alert %s", path, stuckAlert)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sample is one series of an instant query's answer.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query through Prometheus's HTTP API.
func (p *promProc) query(q string) ([]sample, error) {
	resp, err := http.Get("http://" + p.addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string   `json:"resultType"`
			Result     []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode the answer to %s: %w", q, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, body.Error)
	}
	return body.Data.Result, nil
}

// waitValue waits until the query's one series has the value want. A value
// past want fails at once: a termination counted twice never comes back.
func (p *promProc) waitValue(t *testing.T, q string, want float64) {
	t.Helper()
	var last string
	waitFor(t, promTimeout, fmt.Sprintf("Prometheus: %s == %v", q, want), func() bool {
		r, err := p.query(q)
		if err != nil {
			last = err.Error()
			return false
		}
		if len(r) != 1 {
			last = fmt.Sprintf("%d series", len(r))
			return false
		}
		s, _ := r[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			last = err.Error()
			return false
		}
		if v > want {
			t.Fatalf("Prometheus: %s = %v, past %v", q, v, want)
		}
		last = s
		return v == want
	})
	t.Logf("Prometheus: %s = %v (last answer %s)", q, want, last)
}
