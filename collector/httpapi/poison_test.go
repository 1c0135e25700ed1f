package httpapi

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

// year10000 is a time an agent's binary batch can carry but JSON cannot.
var year10000 = &timestamppb.Timestamp{Seconds: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()}

// storeEvents stores events through the real store, keyed in order, with
// the time key ingest computes (which wraps for such times).
func storeEvents(t *testing.T, st *store.Store, events ...*apiv1.Event) {
	t.Helper()
	var rows []store.Row
	for i, e := range events {
		b, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, store.Row{Node: e.Node, Epoch: 1, Seq: int64(i + 1), TimeNs: e.Time.AsTime().UnixNano(), Kind: e.Kind,
			Namespace: e.GetPod().GetNamespace(), Name: e.GetPod().GetName(), UID: e.GetPod().GetUid(), Verdict: e.Verdict, Body: b})
	}
	if _, err := st.Insert(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
}

// counter reads one counter from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestPoisonedEvents(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	// The pod "poison" has an event dated year 10000, and its summary a
	// phase that ends then; its summary lists between the other two pods.
	exited := event(apiv1.KindContainerExited, "poison", now)
	exited.Time = year10000
	summary := event(apiv1.KindTerminationSummary, "poison", now.Add(-500*time.Millisecond))
	summary.Verdict = apiv1.VerdictKilled
	summary.Phases = []*apiv1.Phase{{Name: apiv1.PhaseStopSignal, Start: timestamppb.New(now.Add(-time.Second)), End: year10000}}
	storeEvents(t, st,
		event(apiv1.KindContainerExited, "web", now.Add(-2*time.Second)),
		event(apiv1.KindSandboxRemoved, "web", now.Add(-time.Second)),
		exited,
		summary,
		event(apiv1.KindContainerExited, "api", now),
		event(apiv1.KindSandboxStopped, "api", now),
	)
	reg := prometheus.NewRegistry()
	hub := watch.NewHub(prometheus.NewRegistry())
	srv := httptest.NewServer(Handler(query.NewService(st, hub, reg, slog.New(slog.DiscardHandler))))
	defer srv.Close()

	// get returns an answer's status, header and event lines, each of which
	// must be a whole event.
	get := func(t *testing.T, path string) (int, http.Header, []*apiv1.Event) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var events []*apiv1.Event
		for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			if line == "" {
				continue
			}
			e := new(apiv1.Event)
			if err := apiv1.UnmarshalJSONLine([]byte(line), e); err != nil {
				t.Fatalf("line %q is not an event: %v", line, err)
			}
			events = append(events, e)
		}
		return resp.StatusCode, resp.Header, events
	}

	t.Run("a listing that reaches an event dated year 10000 still returns every pod", func(t *testing.T) {
		code, header, events := get(t, "/api/v1/terminations")
		var names []string
		for _, e := range events {
			names = append(names, e.GetPod().GetName())
			if e.GetPod().GetName() == "poison" && e.GetPhases()[0].GetEnd().AsTime().Year() != 9999 {
				t.Errorf("the poisoned summary's phase ends %v, want it clamped to year 9999", e.GetPhases()[0].GetEnd().AsTime())
			}
		}
		sort.Strings(names)
		if code != http.StatusOK || strings.Join(names, " ") != "api poison web" || header.Get(skippedHeader) != "" {
			t.Errorf("status %d, skipped %q, pods %v; want 200, none skipped, api poison web", code, header.Get(skippedHeader), names)
		}
	})
	t.Run("the poisoned pod's timeline shows all its events", func(t *testing.T) {
		code, _, events := get(t, "/api/v1/namespaces/ns/pods/poison/timeline")
		if code != http.StatusOK || len(events) != 2 {
			t.Errorf("status %d, %d events; want 200 and 2", code, len(events))
		}
	})
	t.Run("every repaired event is counted", func(t *testing.T) {
		if n := counter(t, reg, "graceline_collector_events_repaired_total"); n < 2 {
			t.Errorf("repaired_total = %v, want at least 2 (one per answer that served it)", n)
		}
	})
	t.Run("a watch serves an event dated year 10000 and keeps streaming", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(wctx, "GET", srv.URL+"/api/v1/watch?namespace=ns", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		live := event(apiv1.KindContainerStarted, "poison", now)
		live.Time = year10000
		hub.Publish([]*apiv1.Event{live, event(apiv1.KindContainerStarted, "after", now)})
		sc := bufio.NewScanner(resp.Body)
		for _, want := range []string{`"name":"poison"`, `"name":"after"`} {
			if !sc.Scan() || !strings.Contains(sc.Text(), want) {
				t.Fatalf("watched line = %q (%v), want %s; trailer %q", sc.Text(), sc.Err(), want, resp.Trailer.Get(errorTrailer))
			}
		}
		if live.Time.Seconds != year10000.Seconds {
			t.Errorf("the published event was changed in place; every watcher shares it")
		}
	})
}
