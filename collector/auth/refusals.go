package auth

import (
	"log/slog"
	"sync"
	"time"
)

// refusalEvery is how often a stream of refusals is summed up in the log.
const refusalEvery = 10 * time.Second

// refusalLog logs refusals without letting a flood of them flood the log:
// the first refusal of each API and reason is logged with its peer, those
// that follow within refusalEvery are only counted, and their count is
// logged in one line at the end of that period. The metric counts every
// refusal; the log says that refusals happen, and from where at first.
type refusalLog struct {
	log   *slog.Logger
	every time.Duration
	// after runs f once d has passed; a test drives it by hand.
	after func(d time.Duration, f func())

	mu   sync.Mutex
	held map[refusalKey]*heldRefusals // bounded by APIs times reasons
}

type refusalKey struct{ api, reason string }

// heldRefusals are the refusals of one key not logged yet.
type heldRefusals struct {
	n        int
	lastPeer string
}

func newRefusalLog(log *slog.Logger) *refusalLog {
	return &refusalLog{
		log:   log,
		every: refusalEvery,
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		held:  map[refusalKey]*heldRefusals{},
	}
}

// refused notes one refusal.
func (l *refusalLog) refused(api, reason, peer string) {
	k := refusalKey{api, reason}
	l.mu.Lock()
	if h, ok := l.held[k]; ok {
		h.n++
		h.lastPeer = peer
		l.mu.Unlock()
		return
	}
	l.held[k] = &heldRefusals{}
	l.mu.Unlock()
	l.log.Warn("request refused", "api", api, "reason", reason, "peer", peer)
	l.after(l.every, func() { l.flush(k) })
}

// flush logs the refusals of k held back over the last period, and keeps
// holding them back for another period while they go on. A period without
// any lets the next refusal be logged at once.
func (l *refusalLog) flush(k refusalKey) {
	l.mu.Lock()
	h := l.held[k]
	if h.n == 0 {
		delete(l.held, k)
		l.mu.Unlock()
		return
	}
	l.held[k] = &heldRefusals{}
	l.mu.Unlock()
	l.log.Warn("more requests refused", "api", k.api, "reason", k.reason, "count", h.n, "within", l.every, "last_peer", h.lastPeer)
	l.after(l.every, func() { l.flush(k) })
}
