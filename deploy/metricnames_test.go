package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/graceline/graceline/agent"
	"github.com/graceline/graceline/agent/kernel"
	"github.com/graceline/graceline/agent/release"
	"github.com/graceline/graceline/agent/sink"
	"github.com/graceline/graceline/agent/timeline"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/signals"
	"github.com/graceline/graceline/collector"
	collectorclient "github.com/graceline/graceline/collector/client"
	"github.com/graceline/graceline/collector/kube"
	"github.com/graceline/graceline/cri"
)

// prometheusOwn are the series Prometheus makes itself, which no registry
// of graceline's holds.
var prometheusOwn = []string{"up", "ALERTS"}

// TestEveryQueryUsesARegisteredMetric parses every alert expression and
// every dashboard query, checks with promtool that each is valid PromQL,
// and checks that each metric it names is one the collector or the agent
// registers, read from their real registries.
func TestEveryQueryUsesARegisteredMetric(t *testing.T) {
	registered := map[string]bool{}
	for _, n := range collectorMetrics(t) {
		registered[n] = true
	}
	for _, n := range agentMetrics(t) {
		registered[n] = true
	}
	for _, n := range prometheusOwn {
		registered[n] = true
	}
	queries := append(alertQueries(t), dashboardQueries(t)...)
	if len(queries) < 10 {
		t.Fatalf("found only %d queries: the files' layout changed under this test", len(queries))
	}
	checkPromQL(t, queries)
	for _, q := range queries {
		names := metricNames(q.expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric found in %q", q.where, q.expr)
		}
		for _, n := range names {
			if !registered[n] && !registered[histogramBase(n, registered)] {
				t.Errorf("%s uses %s, which neither the collector nor the agent registers", q.where, n)
			}
		}
	}
}

// TestMetricNamesAreFoundInQueries shows that the scanner the test above
// relies on finds metric names, and only them.
func TestMetricNamesAreFoundInQueries(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		want       []string
	}{
		{"a bare name is found", `graceline_spool_bytes`, []string{"graceline_spool_bytes"}},
		{"label matchers and ranges are not names", `rate(a_total{reason="x",b=~"y|z"}[5m])`, []string{"a_total"}},
		{"grouping labels are not names", `sum by (namespace, le) (rate(x_bucket[1m])) / on(job) group_left(instance) y`, []string{"x_bucket", "y"}},
		{"operators, numbers and Grafana variables are not names", `a > 0.25 and b >= 4 or c unless d[$__rate_interval] offset 5m`, []string{"a", "b", "c", "d"}},
		{"a misspelt name is found as it is", `sum(increase(graceline_terminatons_total[30m]))`, []string{"graceline_terminatons_total"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
				t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}

// query is one PromQL expression and where it was found.
type query struct{ where, expr string }

func alertQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []RuleGroup `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(b, &doc); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var out []query
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			out = append(out, query{rulesFile + " alert " + r.Alert, r.Expr})
		}
	}
	return out
}

// labelValues reads the metric of a Grafana label_values(metric, label)
// variable query, which is not PromQL.
var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)

func dashboardQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []query
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", dashboardFile, p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, query{fmt.Sprintf("%s panel %q", dashboardFile, p.Title), tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		text, _ := q["query"].(string)
		m := labelValues.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("%s variable %s: query %q is not label_values(metric, label)", dashboardFile, v.Name, text)
			continue
		}
		out = append(out, query{fmt.Sprintf("%s variable %s", dashboardFile, v.Name), m[1]})
	}
	return out
}

// grafanaVariables stand in for Grafana's variables when promtool parses a
// dashboard query.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$namespace", ".*")

// checkPromQL has promtool parse every query, as recording rules of a
// temporary rule file.
func checkPromQL(t *testing.T, queries []query) {
	t.Helper()
	var rules []map[string]string
	for i, q := range queries {
		rules = append(rules, map[string]string{"record": fmt.Sprintf("graceline_check:query_%d", i), "expr": grafanaVariables.Replace(q.expr)})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "check", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "queries.yaml")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool(t), "check", "rules", f).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the alerts' and the dashboard's queries: %v\n%s", err, out)
	}
}

// keywords are PromQL's words that are not metric names.
var keywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2"}

// aggregations are PromQL's aggregation operators, which may be followed
// by a grouping rather than a parenthesis.
var aggregations = []string{"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}

// grouping are the keywords followed by a parenthesised list of labels.
var grouping = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}

// metricNames scans a PromQL expression for the metric names it selects:
// identifiers outside strings, label matchers, ranges and label lists that
// are neither functions (followed by a parenthesis) nor keywords. Every
// other part of the query is promtool's to check.
func metricNames(expr string) []string {
	var out []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	skipTo := func(i int, close byte) int {
		for i < len(expr) && expr[i] != close {
			if expr[i] == '"' || expr[i] == '\'' || expr[i] == '`' {
				q := expr[i]
				for i++; i < len(expr) && expr[i] != q; i++ {
					if expr[i] == '\\' {
						i++
					}
				}
			}
			i++
		}
		return i + 1
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i+1, c)
		case c == '{':
			i = skipTo(i+1, '}')
		case c == '[':
			i = skipTo(i+1, ']')
		case c == '$' || c >= '0' && c <= '9' || c == '.':
			for i++; i < len(expr) && (isPart(expr[i]) || expr[i] == '.'); i++ {
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\n') {
				k++
			}
			call := k < len(expr) && expr[k] == '('
			switch {
			case call && slices.Contains(grouping, word):
				j = skipTo(k+1, ')')
			case call, slices.Contains(keywords, strings.ToLower(word)), slices.Contains(aggregations, word):
			default:
				out = append(out, word)
			}
			i = j
		default:
			i++
		}
	}
	return out
}

// histogramBase is the histogram a series name belongs to (x_bucket, x_sum
// and x_count of x), when x is registered and no counter; else "".
func histogramBase(name string, registered map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && registered[base] && !strings.HasSuffix(base, "_total") {
			return base
		}
	}
	return ""
}

// descName reads a metric's name from its description.
var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// names lists every metric registered in reg, from its descriptions, so
// that vectors without a series yet count too.
func names(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	ch := make(chan *prometheus.Desc)
	go func() {
		reg.Describe(ch)
		close(ch)
	}()
	var out []string
	for d := range ch {
		if m := descName.FindStringSubmatch(d.String()); m != nil {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		t.Fatal("no metric registered")
	}
	return out
}

// collectorMetrics runs the real collector, with its cluster side, until it
// serves (by then it registered every metric), and lists what it
// registered.
func collectorMetrics(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	// An API server that is never there: the cluster side registers its
	// metrics and keeps retrying its watches.
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
`), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := freeAddr(t)
	reg := prometheus.NewRegistry()
	kc := kube.DefaultConfig()
	kc.Kubeconfig = kubeconfig
	cfg := collector.Config{DataDir: filepath.Join(dir, "data"), GRPCAddress: freeAddr(t), HTTPAddress: httpAddr, Registry: reg, Kubernetes: &kc}
	run(t, func(ctx context.Context) error {
		return collector.Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return names(t, reg)
}

// agentMetrics runs the real agent, with its spool and sender, without
// eBPF, against a runtime that is not there: it registers every metric
// before it first tries the runtime, and logs that try.
func agentMetrics(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := agent.Config{
		CRIEndpoint: "unix://" + filepath.Join(dir, "no-runtime.sock"), NodeName: "node-1", CRITimeout: time.Second,
		ContainerdAddress: agent.ContainerdOff,
		Observer:          cri.DefaultConfig(), Timeline: timeline.DefaultConfig(),
		Release:  release.Config{Period: 200 * time.Millisecond, Recheck: 10 * time.Second, GiveUp: 10 * time.Minute},
		Delivery: sink.DeliveryConfig{SpoolDir: filepath.Join(dir, "spool"), SyncInterval: time.Second, Collector: collectorclient.Options{Address: freeAddr(t), TokenFile: token}},
		// The kernel source is off, as on a node without eBPF; its
		// settings are still checked.
		Kernel: kernel.Config{
			Probe:   kernel.ProbeConfig{Signals: signals.DefaultSignals, Config: probe.Config{RatePerSec: 1000, Burst: 2000}},
			HostPID: 1, AttributionWindow: 2 * time.Second, RemovedTTL: 5 * time.Second,
		},
		Registry: reg,
	}
	tries := &logWatch{msg: "container runtime not reachable; retrying"}
	run(t, func(ctx context.Context) error {
		return agent.Run(ctx, cfg, slog.New(tries))
	}, tries.logged)
	return names(t, reg)
}

// run starts f and waits until ready holds; f's context ends with the test.
func run(t *testing.T, f func(ctx context.Context) error, ready func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		err = f(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Errorf("did not stop within 30s")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		select {
		case <-stopped:
			t.Fatalf("stopped before it was ready: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready after 30s")
		}
	}
}

// logWatch is a slog handler that notes whether a message was logged.
type logWatch struct {
	msg  string
	mu   sync.Mutex
	hits bool
}

func (w *logWatch) logged() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hits
}

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message == w.msg {
		w.mu.Lock()
		w.hits = true
		w.mu.Unlock()
	}
	return nil
}
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *logWatch) WithGroup(string) slog.Handler      { return w }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
