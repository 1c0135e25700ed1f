package ratelog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// manualTimers holds the functions a Logger schedules until the test lets
// their time come.
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

func TestLogger(t *testing.T) {
	tests := []struct {
		name      string
		keys      func(i int) string
		n         int
		wantLines int
		want      string
	}{
		{"one key repeated ten thousand times makes a line and a summary", func(int) string { return "bad_token" }, 10000, 2, "more=9999"},
		{"two keys make a line and a summary each", func(i int) string { return fmt.Sprint("k", i%2) }, 10, 4, "more=4"},
		{"a single occurrence makes one line and no summary", func(int) string { return "once" }, 1, 1, ""},
		{"keys past the bound share one", func(i int) string { return fmt.Sprint("k", i) }, 10000, maxKeys + 1 + 1, "key=(other)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			timers := &manualTimers{}
			l := New(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelWarn, 10*time.Second, timers.after)
			for i := range tt.n {
				l.Log(tt.keys(i), "request refused", "reason", tt.keys(i))
			}
			timers.elapse()
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != tt.wantLines {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), tt.wantLines, buf.String())
			}
			if !strings.Contains(buf.String(), tt.want) {
				t.Errorf("no %q in:\n%s", tt.want, buf.String())
			}
		})
	}
}

func TestAKeyQuietForAPeriodIsLoggedAtOnceAgain(t *testing.T) {
	var buf bytes.Buffer
	timers := &manualTimers{}
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelWarn, time.Second, timers.after)
	l.Log("k", "refused")
	l.Log("k", "refused")
	timers.elapse() // the summary of one more
	timers.elapse() // a quiet period: the key is forgotten
	l.Log("k", "refused")
	if got := strings.Count(buf.String(), "msg=refused\n"); got != 2 {
		t.Errorf("logged %d first occurrences, want 2:\n%s", got, buf.String())
	}
	if got := strings.Count(buf.String(), "(repeated)"); got != 1 {
		t.Errorf("logged %d summaries, want 1:\n%s", got, buf.String())
	}
}
