// Package ratelog bounds how many log lines a repeated event makes. The
// first occurrence of each key is logged at once; those that follow within
// the period are only counted, and at the end of the period one line says
// how many there were. A key quiet for a whole period is forgotten, so its
// next occurrence is logged at once again. A client refused a million times
// makes a handful of lines, not a million, while the first refusal still
// shows at once, with its details.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// maxKeys bounds the keys held at once, so that keys a client chooses
// cannot grow the map; past it, occurrences share one key.
const maxKeys = 256

// overflowKey collects the occurrences of keys past maxKeys.
const overflowKey = "(other)"

// Logger logs the first occurrence of a key per period and sums up the
// rest. It is safe for concurrent use.
type Logger struct {
	log   *slog.Logger
	level slog.Level
	every time.Duration
	after func(d time.Duration, f func())

	mu   sync.Mutex
	held map[string]*held
}

// held are the occurrences of one key not logged yet.
type held struct {
	n     int
	msg   string
	attrs []any
}

// New returns a Logger that writes to log at level and sums up every
// period. after runs f once d has passed; nil means time.AfterFunc, and a
// test passes its own to let periods end when it says.
func New(log *slog.Logger, level slog.Level, every time.Duration, after func(d time.Duration, f func())) *Logger {
	if after == nil {
		after = func(d time.Duration, f func()) { time.AfterFunc(d, f) }
	}
	return &Logger{log: log, level: level, every: every, after: after, held: map[string]*held{}}
}

// Log records one occurrence of key. The first of a period is logged with
// msg and attrs; the others are counted, and the attributes of the last
// are kept for the summary.
func (l *Logger) Log(key, msg string, attrs ...any) {
	l.mu.Lock()
	h, seen := l.held[key]
	if !seen && len(l.held) >= maxKeys {
		key = overflowKey
		h, seen = l.held[key]
	}
	if seen {
		h.n++
		h.msg, h.attrs = msg, attrs
		l.mu.Unlock()
		return
	}
	l.held[key] = &held{}
	l.mu.Unlock()
	l.log.Log(context.Background(), l.level, msg, attrs...)
	l.after(l.every, func() { l.flush(key) })
}

// flush logs how many occurrences of key the last period held back, and
// keeps holding them back for another period while they go on. The line is
// written outside the lock, so that a slow log sink never holds up the
// callers counting.
func (l *Logger) flush(key string) {
	l.mu.Lock()
	h := l.held[key]
	if h.n == 0 {
		delete(l.held, key)
		l.mu.Unlock()
		return
	}
	l.held[key] = &held{}
	l.mu.Unlock()
	l.log.Log(context.Background(), l.level, h.msg+" (repeated)",
		"key", key, "more", h.n, "within", l.every.String(), slog.Group("last", h.attrs...))
	l.after(l.every, func() { l.flush(key) })
}
