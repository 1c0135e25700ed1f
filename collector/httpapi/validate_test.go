package httpapi

import (
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

	"github.com/graceline/graceline/collector/query"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

func TestParametersAreValidated(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := query.NewService(st, watch.NewHub(prometheus.NewRegistry()), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(Handler(svc))
	defer srv.Close()
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name     string
		path     string
		wantCode int
		want     string // in the one-line answer
	}{
		{"an unknown verdict is refused with the known ones", "/api/v1/terminations?verdict=bogus", 400, "verdict: want one of graceful, killed, stuck"},
		{"a known verdict is served", "/api/v1/terminations?verdict=killed", 200, ""},
		{"a negative since is refused", "/api/v1/terminations?since=-1h", 400, "since: want a positive duration"},
		{"a since in the future is refused", "/api/v1/terminations?since=" + future, 400, "since: want a time in the past"},
		{"a since that is neither a time nor a duration is refused", "/api/v1/terminations?since=yesterday", 400, "since: want an RFC 3339 time"},
		{"a limit over the maximum is refused naming it", "/api/v1/terminations?limit=1001", 400, "limit: want 1 to 1000"},
		{"a negative limit is refused", "/api/v1/terminations?limit=-5", 400, "limit: want 1 to 1000"},
		{"a limit that is no number is refused", "/api/v1/terminations?limit=many", 400, "limit: want an integer from 1 to 1000"},
		{"the maximum limit is served", "/api/v1/terminations?limit=1000", 200, ""},
		{"a namespace longer than a DNS label is refused", "/api/v1/terminations?namespace=" + strings.Repeat("a", 64), 400, "namespace: want at most 63 characters"},
		{"a node name longer than a DNS subdomain is refused", "/api/v1/stuck?node=" + strings.Repeat("a", 254), 400, "node: want at most 253 characters"},
		{"a pod name longer than a DNS subdomain is refused", "/api/v1/namespaces/ns/pods/" + strings.Repeat("a", 254) + "/timeline", 400, "name: want at most 253 characters"},
		{"a report without a window is refused", "/api/v1/report", 400, "since: a report needs the start of its window"},
		{"a report of the last day is served", "/api/v1/report?since=24h&namespace=shop", 200, ""},
		{"a report with a window that is no duration is refused", "/api/v1/report?since=forever", 400, "since: want an RFC 3339 time"},
		{"a watch with an overlong name is refused before it streams", "/api/v1/watch?name=" + strings.Repeat("a", 254), 400, "name: want at most 253 characters"},
	}
	// A watch that was let through would stream until the deadline.
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantCode || !strings.Contains(string(body), tc.want) {
				t.Errorf("status %d %q, want %d with %q", resp.StatusCode, body, tc.wantCode, tc.want)
			}
			if tc.wantCode == 400 && strings.Count(strings.TrimSpace(string(body)), "\n") > 0 {
				t.Errorf("answer %q is more than one line", body)
			}
		})
	}
}
