package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/otlp"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/test/harness"
)

// TestTerminationsAsTracesInJaeger points the shared collector's OTLP
// export at a real Jaeger v2 (built by hack/build-jaeger.sh: OTLP receiver,
// query API, in-memory storage, all on loopback), deletes a pod that stops
// on SIGTERM and one that ignores it, and reads their traces back through
// Jaeger's query API: one trace per pod, its spans' names and nesting, their
// timing against the node's and the API's events, the SIGKILL and the Error
// status of the killed pod; then, after a collector restart with the export
// cursor rewound, the same termination is still one trace with the same
// spans.
func TestTerminationsAsTracesInJaeger(t *testing.T) {
	j := startJaeger(t)
	exportTo(t, "--otlp-endpoint", "grpc://"+j.otlp, "--otlp-insecure")

	ns := newNamespace(t, "otlp")
	graceful := createRunning(t, busyboxPod(ns, "graceful", exitsOnTerm, 3))
	killed := createRunning(t, busyboxPod(ns, "killed", ignoresTerm, 2))
	for _, p := range []*corev1.Pod{graceful, killed} {
		pid := find(agent.forPod(string(p.UID)), apiv1.KindContainerStarted).GetProcess().GetPid()
		waitFor(t, 30*time.Second, fmt.Sprintf("pid %d to set its SIGTERM disposition", pid), func() bool { return harness.HandlesSignal(pid, syscall.SIGTERM) })
	}
	deleteAndWaitGone(t, graceful)
	deleteAndWaitGone(t, killed)

	traces := map[string]jaegerTrace{}
	for _, p := range []*corev1.Pod{graceful, killed} {
		finalSummary(t, string(p.UID))
		tid := otlp.PodTraceID(string(p.UID)).String()
		var tr jaegerTrace
		waitFor(t, collectorTimeout, "the trace of "+p.Name+" in Jaeger", func() bool {
			var ok bool
			tr, ok = j.trace(t, tid)
			return ok && len(tr.named(otlp.SpanPodTermination)) > 0 && len(tr.named(otlp.SpanContainerStop)) > 0
		})
		traces[p.Name] = tr
		t.Logf("%s: trace %s with %d spans: %s", p.Name, tid, len(tr.Spans), tr.describe())
	}

	for _, tc := range []struct {
		pod    *corev1.Pod
		killed bool
	}{{graceful, false}, {killed, true}} {
		t.Run(tc.pod.Name+": spans, nesting and timing follow the collector's events", func(t *testing.T) {
			tr := traces[tc.pod.Name]
			events, sum := finalSummary(t, string(tc.pod.UID))
			roots := tr.roots()
			if len(roots) != 1 || roots[0].OperationName != otlp.SpanPodTermination {
				t.Fatalf("roots %v, want one %s", roots, otlp.SpanPodTermination)
			}
			root := roots[0]
			for _, s := range tr.Spans {
				want := root.SpanID
				if s.OperationName == otlp.SpanContainerStop {
					want = tr.named(apiv1.PhaseStopSignal)[0].SpanID
				}
				if s.SpanID != root.SpanID && s.parent() != want {
					t.Errorf("span %s has parent %s, want %s", s.OperationName, s.parent(), want)
				}
			}
			for _, p := range sum.GetPhases() {
				if len(tr.named(p.GetName())) != 1 {
					t.Errorf("phase %s of the summary has %d spans, want 1", p.GetName(), len(tr.named(p.GetName())))
				}
			}
			// Jaeger keeps microseconds.
			near := func(what string, got int64, want time.Time) {
				if d := got - want.UnixMicro(); d < -1 || d > 1 {
					t.Errorf("%s at %d µs, want %s (off by %d µs)", what, got, want.Format(time.RFC3339Nano), d)
				}
			}
			near("the root's start (the delete request)", root.StartTime, find(apiEvents(events), apiv1.KindDeleteRequested).GetTime().AsTime())
			near("the root's end (the object's removal)", root.StartTime+root.Duration, find(apiEvents(events), apiv1.KindPodDeleted).GetTime().AsTime())
			stop := tr.named(otlp.SpanContainerStop)[0]
			term := findWhere(events, apiv1.KindSignalGenerated, func(e *apiv1.Event) bool { return e.GetSignal().GetName() == "SIGTERM" })
			exited := find(events, apiv1.KindContainerExited)
			if term == nil || exited == nil {
				t.Fatalf("no SIGTERM or container_exited among the collector's events:\n%s", describe(events))
			}
			near("the container's stop (its SIGTERM)", stop.StartTime, term.GetTime().AsTime())
			if stop.tag("k8s.container.name") != "main" {
				t.Errorf("container_stop's k8s.container.name = %q, want main", stop.tag("k8s.container.name"))
			}
			if root.tag("k8s.pod.uid") != string(tc.pod.UID) || root.tag("k8s.namespace.name") != ns || root.tag("k8s.node.name") != testCluster.NodeName {
				t.Errorf("root names pod %q in %q on %q, want %s in %s on %s", root.tag("k8s.pod.uid"), root.tag("k8s.namespace.name"), root.tag("k8s.node.name"), tc.pod.UID, ns, testCluster.NodeName)
			}
			// The runtime's SIGKILL to the container's init; a graceful
			// pod's shell, dying, has the kernel SIGKILL its child too.
			init := stop.tag("process.pid")
			sigkill := stop.hasLog(apiv1.KindSignalGenerated, map[string]string{"graceline.signal.name": "SIGKILL", "process.pid": init})
			if init == "" || sigkill != tc.killed {
				t.Errorf("a SIGKILL event to the init (pid %q) on the container's span: %v, want %v", init, sigkill, tc.killed)
			}
			if got := root.tag("otel.status_code") == "ERROR"; got != tc.killed {
				t.Errorf("root in Error: %v, want %v (verdict %s)", got, tc.killed, sum.GetVerdict())
			}
			if got := root.tag("graceline.verdict"); got != sum.GetVerdict() {
				t.Errorf("root's verdict %q, want the summary's %q", got, sum.GetVerdict())
			}
		})
	}

	t.Run("a second export after a restart with the cursor rewound is the same trace", func(t *testing.T) {
		before := traces[killed.Name].spanIDs()
		if err := collector.stop(); err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(context.Background(), filepath.Join(collector.dir, "data", "graceline.db"))
		if err != nil {
			t.Fatal(err)
		}
		err = st.SetExportCursor(context.Background(), otlp.CursorName, 0)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := collector.start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, collectorTimeout, "the restarted collector to export everything again", func() bool {
			_, body, err := collector.httpGet("/metrics")
			return err == nil && metricValue(body, `graceline_collector_otlp_traces_exported_total{trace="final"}`) >= 2 &&
				metricValue(body, "graceline_collector_otlp_oldest_unexported_seconds") == 0
		})
		found := j.search(t, string(killed.UID))
		if len(found) != 1 {
			t.Fatalf("Jaeger has %d traces of pod %s, want 1", len(found), killed.UID)
		}
		if got := found[0].spanIDs(); !slices.Equal(got, before) {
			t.Errorf("span IDs after the second export:\n %q\nwant\n %q", got, before)
		}
	})
}

// exportTo restarts the shared collector with args; the test's cleanup
// restarts it as it was.
func exportTo(t *testing.T, args ...string) {
	t.Helper()
	if err := collector.stop(); err != nil {
		t.Fatal(err)
	}
	collector.extra = args
	if err := collector.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := collector.stop(); err != nil {
			t.Error(err)
		}
		collector.extra = nil
		if err := collector.start(); err != nil {
			t.Error(err)
		}
	})
}

// metricValue reads one sample of a Prometheus text exposition; -1 when
// absent.
func metricValue(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}

// jaeger is a Jaeger v2 all-in-one on loopback (harness.StartJaeger).
type jaeger struct {
	otlp, query string
}

func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	h, err := harness.StartJaeger(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("Jaeger's log:\n%s", tail(h.Logs.String(), 6000))
		}
	})
	return &jaeger{query: h.Query, otlp: h.OTLP}
}

// jaegerTrace is a trace in the JSON of Jaeger's query API (/api/traces).
type jaegerTrace struct {
	TraceID string       `json:"traceID"`
	Spans   []jaegerSpan `json:"spans"`
}

type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64 `json:"startTime"` // µs
	Duration  int64 `json:"duration"`  // µs
	Tags      []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	Logs []struct {
		Fields []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"fields"`
	} `json:"logs"`
}

func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s jaegerSpan) tag(key string) string {
	for _, kv := range s.Tags {
		if kv.Key == key {
			return fmt.Sprint(kv.Value)
		}
	}
	return ""
}

// hasLog says whether a span event named event has every attribute of
// want.
func (s jaegerSpan) hasLog(event string, want map[string]string) bool {
	for _, l := range s.Logs {
		got := map[string]string{}
		for _, f := range l.Fields {
			got[f.Key] = fmt.Sprint(f.Value)
		}
		match := got["event"] == event
		for k, v := range want {
			match = match && got[k] == v
		}
		if match {
			return true
		}
	}
	return false
}

func (tr jaegerTrace) named(name string) []jaegerSpan {
	var out []jaegerSpan
	for _, s := range tr.Spans {
		if s.OperationName == name {
			out = append(out, s)
		}
	}
	return out
}

func (tr jaegerTrace) roots() []jaegerSpan {
	var out []jaegerSpan
	for _, s := range tr.Spans {
		if s.parent() == "" {
			out = append(out, s)
		}
	}
	return out
}

// spanIDs are the trace's distinct span IDs, sorted.
func (tr jaegerTrace) spanIDs() []string {
	var out []string
	for _, s := range tr.Spans {
		out = append(out, s.SpanID+" "+s.OperationName)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (tr jaegerTrace) describe() string {
	var parts []string
	for _, s := range tr.Spans {
		parts = append(parts, fmt.Sprintf("%s(%dµs)", s.OperationName, s.Duration))
	}
	return strings.Join(parts, " ")
}

// trace fetches one trace by ID; ok is false while Jaeger does not have it.
func (j *jaeger) trace(t *testing.T, id string) (jaegerTrace, bool) {
	var resp struct {
		Data []jaegerTrace `json:"data"`
	}
	if !j.get(t, "/api/traces/"+id, &resp) || len(resp.Data) != 1 {
		return jaegerTrace{}, false
	}
	return resp.Data[0], true
}

// search returns the traces whose spans carry k8s.pod.uid = uid.
func (j *jaeger) search(t *testing.T, uid string) []jaegerTrace {
	t.Helper()
	tags, _ := json.Marshal(map[string]string{"k8s.pod.uid": uid})
	q := url.Values{"service": {"graceline"}, "tags": {string(tags)}, "lookback": {"6h"}, "limit": {"100"}}
	var resp struct {
		Data []jaegerTrace `json:"data"`
	}
	if !j.get(t, "/api/traces?"+q.Encode(), &resp) {
		t.Fatal("search Jaeger's traces failed")
	}
	return resp.Data
}

func (j *jaeger) get(t *testing.T, path string, into any) bool {
	resp, err := http.Get("http://" + j.query + path)
	if err != nil {
		t.Logf("GET %s: %v", path, err)
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Logf("GET %s: decode: %v", path, err)
		return false
	}
	return true
}
