package query

import (
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// noticeEvery bounds how often damaged events are logged: a listing that
// reaches one meets it again on every call, and a log line each time would
// drown everything else.
const noticeEvery = time.Minute

// decode reads a stored event. An event that cannot be decoded is left out
// and counted (nil, without error), so that one damaged row never hides the
// rest of an answer; one whose times JSON cannot carry is repaired.
func (s *Service) decode(b []byte) *apiv1.Event {
	e := new(apiv1.Event)
	if err := proto.Unmarshal(b, e); err != nil {
		s.metrics.unreadable.Inc()
		s.notice("left a stored event out of an answer", fmt.Errorf("decode stored event: %w", err))
		return nil
	}
	return s.servable(e, true)
}

// servable returns e in a form every face of the service can encode: e
// itself, or a copy with its times clamped (e itself when owned, that is,
// when nobody else holds it).
func (s *Service) servable(e *apiv1.Event, owned bool) *apiv1.Event {
	if !unservable(e.ProtoReflect()) {
		return e
	}
	if !owned {
		e = proto.Clone(e).(*apiv1.Event)
	}
	repairTimes(e.ProtoReflect())
	s.metrics.repaired.Inc()
	s.notice("served an event with a time clamped into years 0001 to 9999", fmt.Errorf("event %s of pod %s/%s on %s has a time JSON cannot carry",
		e.Kind, e.GetPod().GetNamespace(), e.GetPod().GetName(), e.Node))
	return e
}

// notice logs at most one line per noticeEvery; the metrics count every
// occurrence.
func (s *Service) notice(msg string, err error) {
	if n, ok := s.notices.allow(time.Now()); ok {
		s.log.Warn(msg, "err", err, "similar_since_last_notice", n)
	}
}

// noticeGate lets one notice through per noticeEvery and counts the others.
type noticeGate struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow tells whether a notice may be logged at now, and how many were held
// back since the last one logged.
func (g *noticeGate) allow(now time.Time) (suppressed int, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.last.IsZero() && now.Sub(g.last) < noticeEvery {
		g.suppressed++
		return 0, false
	}
	suppressed, g.suppressed, g.last = g.suppressed, 0, now
	return suppressed, true
}
