package httpapi

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

func event(kind, name string, at time.Time) *apiv1.Event {
	return &apiv1.Event{Kind: kind, Time: timestamppb.New(at), Node: "n1",
		Pod: &apiv1.PodRef{Namespace: "ns", Name: name, Uid: "uid-" + name}, Container: &apiv1.ContainerRef{Name: "main"}}
}

// get answers url's body when its status is wantCode, which is 200; it
// fails the test on any other status, and reports false for a wanted
// error status.
func get(t *testing.T, url string, wantCode int) ([]byte, bool) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantCode {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, wantCode, body)
	}
	return body, wantCode == http.StatusOK
}

func TestHandler(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	var rows []store.Row
	for i, e := range []*apiv1.Event{event(apiv1.KindContainerExited, "web", now), event(apiv1.KindSandboxRemoved, "web", now.Add(time.Second))} {
		b, _ := proto.Marshal(e)
		rows = append(rows, store.Row{Node: "n1", Epoch: 1, Seq: int64(i + 1), TimeNs: e.Time.AsTime().UnixNano(), Kind: e.Kind,
			Namespace: "ns", Name: "web", UID: "uid-web", Body: b})
	}
	if _, err := st.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	hub := watch.NewHub(prometheus.NewRegistry())
	srv := httptest.NewServer(Handler(query.NewService(st, hub, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))))
	defer srv.Close()

	cases := []struct {
		name      string
		path      string
		wantCode  int
		wantLines []string // a kind each line must hold, in order
	}{
		{"a timeline is the pod's events as JSON lines", "/api/v1/namespaces/ns/pods/web/timeline", 200, []string{"container_exited", "sandbox_removed"}},
		{"an unknown pod is 404", "/api/v1/namespaces/ns/pods/nope/timeline", 404, nil},
		{"a pod's summary is one line", "/api/v1/namespaces/ns/pods/web/summary", 200, []string{`"kind":"termination_summary"`}},
		{"an unknown pod's summary is 404", "/api/v1/namespaces/ns/pods/nope/summary", 404, nil},
		{"terminations are summaries", "/api/v1/terminations?since=1h", 200, []string{`"kind":"termination_summary"`}},
		{"a bad since is 400", "/api/v1/terminations?since=yesterday", 400, nil},
		{"a bad limit is 400", "/api/v1/terminations?limit=many", 400, nil},
		{"no pod is stuck", "/api/v1/stuck", 200, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, ok := get(t, srv.URL+tc.path, tc.wantCode)
			if !ok {
				return
			}
			lines := strings.Split(strings.TrimSpace(string(body)), "\n")
			if len(tc.wantLines) == 0 {
				if strings.TrimSpace(string(body)) != "" {
					t.Errorf("body = %q, want empty", body)
				}
				return
			}
			if len(lines) != len(tc.wantLines) {
				t.Fatalf("%d lines, want %d: %s", len(lines), len(tc.wantLines), body)
			}
			for i, want := range tc.wantLines {
				var e apiv1.Event
				if err := apiv1.UnmarshalJSONLine([]byte(lines[i]), &e); err != nil {
					t.Errorf("line %d is not an event: %v", i, err)
				}
				if !strings.Contains(lines[i], want) {
					t.Errorf("line %d = %s, want %s", i, lines[i], want)
				}
			}
		})
	}
	t.Run("check answers each running container's prediction as a JSON line", func(t *testing.T) {
		ready := &apiv1.Event{Kind: apiv1.KindTerminationReadiness, Time: timestamppb.New(now), Node: "n1", Pod: &apiv1.PodRef{Namespace: "ns", Name: "api", Uid: "uid-api"},
			Container: &apiv1.ContainerRef{Name: "main"}, Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM"},
			Processes: []*apiv1.Process{{Pid: 7, Comm: "app", SigIgnored: []string{"SIGTERM"}}}}
		b, _ := proto.Marshal(ready)
		if _, err := st.Insert(ctx, []store.Row{{Node: "n1", Epoch: 1, Seq: 3, TimeNs: now.UnixNano(), Kind: ready.Kind, Namespace: "ns", Name: "api", UID: "uid-api", Body: b,
			Readiness: store.ReadinessFacts{Container: "main", Outcome: apiv1.VerdictKilled, Cause: apiv1.CauseSignalIgnored}}}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, path string
			wantCode   int
			wantPods   []string
		}{
			{"A namespace's running pods are checked; one whose termination began is not.", "/api/v1/check?namespace=ns&since=24h", 200, []string{"api"}},
			{"A pod without its namespace is 400.", "/api/v1/check?pod=api", 400, nil},
			{"A workload without its name is 400.", "/api/v1/check?namespace=ns&workload=Deployment", 400, nil},
			{"A bad since is 400.", "/api/v1/check?since=yesterday", 400, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body, ok := get(t, srv.URL+tc.path, tc.wantCode)
				if !ok {
					return
				}
				var pods []string
				for line := range strings.Lines(string(body)) {
					var c apiv1.ContainerCheck
					if err := protojson.Unmarshal([]byte(line), &c); err != nil {
						t.Fatalf("line %q is not a container check: %v", line, err)
					}
					if c.GetPrediction().GetCause() != apiv1.CauseSignalIgnored {
						t.Errorf("%s predicted %q, want %q", c.GetPod().GetName(), c.GetPrediction().GetCause(), apiv1.CauseSignalIgnored)
					}
					pods = append(pods, c.GetPod().GetName())
				}
				if strings.Join(pods, ",") != strings.Join(tc.wantPods, ",") {
					t.Errorf("pods %v, want %v", pods, tc.wantPods)
				}
			})
		}
	})
	t.Run("watch streams new events as they are published", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/watch?namespace=ns", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		// The handler sends the status line once it is subscribed.
		hub.Publish([]*apiv1.Event{event(apiv1.KindContainerStarted, "other", now), event(apiv1.KindContainerStarted, "api", now)})
		sc := bufio.NewScanner(resp.Body)
		if !sc.Scan() || !strings.Contains(sc.Text(), `"name":"other"`) {
			t.Fatalf("first watched line = %q, %v", sc.Text(), sc.Err())
		}
	})
}
