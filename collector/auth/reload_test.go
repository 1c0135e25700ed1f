package auth

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// logBuffer collects log lines from concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines logged so far that contain s.
func (b *logBuffer) lines(s string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if l != "" && strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// statusWith sends a reader request with token to srv.
func statusWith(t *testing.T, srv *httptest.Server, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

func TestTokenFileIsReloaded(t *testing.T) {
	const oldToken, newToken = "old-reader-token-0123456789", "new-reader-token-0123456789"
	path := filepath.Join(t.TempDir(), "tokens")
	// Written aside and renamed into place, as a Secret's volume changes:
	// a reader of the file never sees it half-written.
	write := func(content string, mode os.FileMode) {
		if err := os.WriteFile(path+".new", []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	write("reader "+oldToken+"\n", 0o600)
	tokens, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	c := NewChecker(tokens, nil, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
	srv := httptest.NewServer(c.HTTP(RoleReader, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.WatchTokenFile(ctx, path, 10*time.Millisecond)

	t.Run("a rewritten file's new token is accepted and its removed token refused", func(t *testing.T) {
		write("# rotated\nreader "+newToken+"\n", 0o600)
		eventually(t, "new token accepted", func() bool { return statusWith(t, srv, newToken) == http.StatusOK })
		if code := statusWith(t, srv, oldToken); code != http.StatusUnauthorized {
			t.Errorf("old token: status %d, want 401", code)
		}
		if n := testutil.ToFloat64(c.reloads.WithLabelValues(reloadOK)); n != 1 {
			t.Errorf("ok reloads = %v, want 1", n)
		}
	})
	t.Run("an invalid rewrite keeps the last good tokens and is logged once and counted", func(t *testing.T) {
		write("reader short\n", 0o600)
		eventually(t, "invalid file counted", func() bool { return testutil.ToFloat64(c.reloads.WithLabelValues(reloadInvalid)) == 1 })
		// Polls of the unchanged invalid file neither log nor count again.
		time.Sleep(100 * time.Millisecond)
		if code := statusWith(t, srv, newToken); code != http.StatusOK {
			t.Errorf("last good token: status %d, want 200", code)
		}
		if code := statusWith(t, srv, oldToken); code != http.StatusUnauthorized {
			t.Errorf("old token: status %d, want 401", code)
		}
		if n := testutil.ToFloat64(c.reloads.WithLabelValues(reloadInvalid)); n != 1 {
			t.Errorf("invalid reloads = %v, want 1", n)
		}
		if got := logs.lines("cannot be used"); len(got) != 1 {
			t.Errorf("%d log lines about the invalid file, want 1: %q", len(got), got)
		}
	})
	t.Run("a file made readable by others is refused like an invalid one", func(t *testing.T) {
		write("reader "+oldToken+"\n", 0o644)
		eventually(t, "unsafe file counted", func() bool { return testutil.ToFloat64(c.reloads.WithLabelValues(reloadInvalid)) == 2 })
		if code := statusWith(t, srv, oldToken); code != http.StatusUnauthorized {
			t.Errorf("token of the unsafe file: status %d, want 401", code)
		}
	})
}
