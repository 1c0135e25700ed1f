package ratelog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogger(t *testing.T) {
	tests := []struct {
		name      string
		keys      func(i int) string
		n         int
		wantLines int
		wantMore  string
	}{
		{"one key repeated ten thousand times makes two lines", func(int) string { return "bad_token" }, 10000, 2, "more=9999"},
		{"two keys make a line each and a summary each", func(i int) string { return fmt.Sprint("k", i%2) }, 10, 4, "more=4"},
		{"a single occurrence makes one line and no summary", func(int) string { return "once" }, 1, 1, ""},
		{"keys past the bound are folded into one", func(i int) string { return fmt.Sprint("k", i) }, 10000, maxKeys + 2, "key=(other)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			now := time.Unix(1000, 0)
			l := New(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelWarn, 10*time.Second, func() time.Time { return now })
			for i := range tt.n {
				l.Log(tt.keys(i), "request refused", "reason", tt.keys(i))
			}
			now = now.Add(10 * time.Second)
			l.Flush()
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != tt.wantLines {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), tt.wantLines, buf.String())
			}
			if tt.wantMore != "" && !strings.Contains(buf.String(), tt.wantMore) {
				t.Errorf("no %q in:\n%s", tt.wantMore, buf.String())
			}
		})
	}
}

func TestLoggerLogsAgainInTheNextInterval(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelWarn, time.Second, func() time.Time { return now })
	l.Log("k", "refused")
	now = now.Add(2 * time.Second)
	l.Log("k", "refused")
	if got := strings.Count(buf.String(), "msg=refused"); got != 2 {
		t.Errorf("logged %d times, want once per interval (2):\n%s", got, buf.String())
	}
}
