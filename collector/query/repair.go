package query

import (
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The JSON form of the event contract can only carry times within years
// 0001 to 9999 and durations within 10,000 years; protojson refuses to
// write anything else. An agent's binary batch can hold any value, so events
// stored before ingest checked them, or by an older collector, may carry
// times that a reader could never be shown. Those are served clamped to the
// nearest time JSON can carry, rather than cutting a listing or a watch
// short.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
)

// maxDurationSeconds is the bound of google.protobuf.Duration: 10,000 years.
const maxDurationSeconds = 315_576_000_000

// unservable tells whether m holds a Timestamp or Duration, at any depth,
// that JSON cannot carry.
func unservable(m protoreflect.Message) bool { return walkTimes(m, false) }

// repairTimes clamps every Timestamp and Duration in m into the range JSON
// can carry, and tells whether it changed any.
func repairTimes(m protoreflect.Message) bool { return walkTimes(m, true) }

// walkTimes visits every Timestamp and Duration set in m, fixing the invalid
// ones when fix is set, and tells whether it found one.
func walkTimes(m protoreflect.Message, fix bool) (bad bool) {
	switch v := m.Interface().(type) {
	case *timestamppb.Timestamp:
		if v.CheckValid() == nil {
			return false
		}
		if fix {
			clampTimestamp(v)
		}
		return true
	case *durationpb.Duration:
		if v.CheckValid() == nil {
			return false
		}
		if fix {
			clampDuration(v)
		}
		return true
	}
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := val.List()
			for i := range l.Len() {
				bad = walkTimes(l.Get(i).Message(), fix) || bad
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			val.Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
				bad = walkTimes(v.Message(), fix) || bad
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			bad = walkTimes(val.Message(), fix) || bad
		}
		return true
	})
	return bad
}

func clampTimestamp(ts *timestamppb.Timestamp) {
	switch {
	case ts.Seconds < minTime.Unix():
		ts.Seconds, ts.Nanos = minTime.Unix(), 0
	case ts.Seconds > maxTime.Unix():
		ts.Seconds, ts.Nanos = maxTime.Unix(), int32(maxTime.Nanosecond())
	default:
		ts.Nanos = min(max(ts.Nanos, 0), 999_999_999)
	}
}

func clampDuration(d *durationpb.Duration) {
	switch {
	case d.Seconds > maxDurationSeconds:
		d.Seconds, d.Nanos = maxDurationSeconds, 999_999_999
	case d.Seconds < -maxDurationSeconds:
		d.Seconds, d.Nanos = -maxDurationSeconds, -999_999_999
	}
	// Nanoseconds must be under a second and share the seconds' sign.
	if d.Nanos <= -1e9 || d.Nanos >= 1e9 || (d.Seconds > 0 && d.Nanos < 0) || (d.Seconds < 0 && d.Nanos > 0) {
		d.Nanos = 0
	}
}
