package auth

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/graceline/graceline/internal/ratelog"
)

// manualTimers holds the functions a refusalLog schedules until the test
// lets their time come.
type manualTimers struct {
	mu  sync.Mutex
	due []func()
}

func (m *manualTimers) after(_ time.Duration, f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.due = append(m.due, f)
}

// elapse runs what was due by the end of one period.
func (m *manualTimers) elapse() {
	m.mu.Lock()
	due := m.due
	m.due = nil
	m.mu.Unlock()
	for _, f := range due {
		f()
	}
}

func TestRefusalsAreLoggedInSummary(t *testing.T) {
	tokens, err := ParseTokens([]byte("reader reader-token-0123456789\n"))
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	c := NewChecker(tokens, nil, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
	timers := &manualTimers{}
	c.refusals = ratelog.New(slog.New(slog.NewTextHandler(&logs, nil)), slog.LevelWarn, refusalEvery, timers.after)
	srv := httptest.NewServer(c.HTTP(RoleReader, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer srv.Close()

	// refuse sends n requests with a wrong token, a few at a time.
	refuse := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		const workers = 4
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					if code := statusWith(t, srv, "wrong-token-0123456789"); code != http.StatusUnauthorized {
						t.Errorf("status %d, want 401", code)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	refused := func() float64 { return testutil.ToFloat64(c.refused.WithLabelValues("http", reasonInvalid)) }

	t.Run("ten thousand refusals make one line and one summary, and are all counted", func(t *testing.T) {
		refuse(10_000)
		if n := refused(); n != 10_000 {
			t.Errorf("refused_total = %v, want 10000", n)
		}
		if got := logs.lines("refused"); len(got) != 1 {
			t.Fatalf("%d lines before the period ends, want 1: %q", len(got), got)
		}
		timers.elapse()
		got := logs.lines("refused")
		if len(got) != 2 || !strings.Contains(got[1], "more=9999") {
			t.Errorf("lines after the period = %q, want the first refusal and a summary of 9999 more", got)
		}
	})
	t.Run("after a quiet period the next refusal is logged at once", func(t *testing.T) {
		timers.elapse() // a period without refusals
		refuse(1)
		if got := logs.lines("refused"); len(got) != 3 {
			t.Errorf("%d lines, want 3: %q", len(got), got)
		}
	})
}
