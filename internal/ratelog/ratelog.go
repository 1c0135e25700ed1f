// Package ratelog bounds how many log lines a repeated event makes. The
// first occurrence of each key is logged at once; later ones within the
// interval are only counted, and one line per key and interval says how many
// were held back. A client that is refused a million times makes a handful
// of lines, not a million, while the first refusal still shows at once.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// maxKeys bounds the keys remembered in one interval, so that keys chosen
// by clients cannot grow it; past it, occurrences are folded into one key.
const maxKeys = 256

// overflowKey collects the occurrences of keys past maxKeys.
const overflowKey = "(other)"

// Logger logs the first occurrence of a key per interval and summarises
// the rest. It is safe for concurrent use.
type Logger struct {
	log      *slog.Logger
	level    slog.Level
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	start time.Time
	held  map[string]*held
}

type held struct {
	n     int
	msg   string
	attrs []any
}

// New returns a Logger that writes msg at level to log. now is the clock;
// nil means time.Now.
func New(log *slog.Logger, level slog.Level, interval time.Duration, now func() time.Time) *Logger {
	if now == nil {
		now = time.Now
	}
	return &Logger{log: log, level: level, interval: interval, now: now, held: map[string]*held{}}
}

// Log records one occurrence of key. The first one of an interval is
// logged with msg and attrs; the others are counted and summarised when
// the interval has passed, by the next call or by Flush.
func (l *Logger) Log(key, msg string, attrs ...any) {
	l.mu.Lock()
	now := l.now()
	var summary []line
	if now.Sub(l.start) >= l.interval {
		summary = l.rollLocked(now)
	}
	h, seen := l.held[key]
	if !seen && len(l.held) >= maxKeys {
		key = overflowKey
		h, seen = l.held[key]
	}
	if !seen {
		h = &held{msg: msg}
		l.held[key] = h
	} else {
		h.n++
		h.msg, h.attrs = msg, attrs
	}
	l.mu.Unlock()
	l.write(summary)
	if !seen {
		l.log.Log(context.Background(), l.level, msg, attrs...)
	}
}

// Flush writes the summaries of the interval so far, when its time is up.
// A caller with a ticker makes sure held-back counts show even when no
// further occurrence comes.
func (l *Logger) Flush() {
	l.mu.Lock()
	now := l.now()
	var summary []line
	if now.Sub(l.start) >= l.interval {
		summary = l.rollLocked(now)
	}
	l.mu.Unlock()
	l.write(summary)
}

type line struct {
	key, msg string
	n        int
	attrs    []any
}

func (l *Logger) rollLocked(now time.Time) []line {
	var out []line
	for k, h := range l.held {
		if h.n > 0 {
			out = append(out, line{k, h.msg, h.n, h.attrs})
		}
	}
	l.start = now
	clear(l.held)
	return out
}

// write logs the summaries outside the lock, so that a slow log sink never
// holds up the callers counting.
func (l *Logger) write(lines []line) {
	for _, s := range lines {
		l.log.Log(context.Background(), l.level, s.msg+" (repeated)",
			"key", s.key, "more", s.n, "within", l.interval.String(), slog.Group("last", s.attrs...))
	}
}
