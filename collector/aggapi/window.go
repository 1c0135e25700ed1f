package aggapi

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/fields"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
)

// windowSince reads the start of a list's window from the field selector:
// status.since (an RFC 3339 time) or status.window (a duration back from
// now), else def back from now. Reports and checks read their windows
// here, so that both take the same words.
func windowSince(sel fields.Selector, now time.Time, def time.Duration) (time.Time, error) {
	s, bySince := sel.RequiresExactMatch(v1alpha1.FieldSince)
	d, byWindow := sel.RequiresExactMatch(v1alpha1.FieldWindow)
	switch {
	case bySince && byWindow:
		return time.Time{}, fmt.Errorf("field selectors %s and %s both set the window: give one", v1alpha1.FieldSince, v1alpha1.FieldWindow)
	case bySince:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("field selector %s=%s: want an RFC 3339 time such as 2026-01-02T15:04:05Z", v1alpha1.FieldSince, s)
		}
		return t, nil
	case byWindow:
		w, err := time.ParseDuration(d)
		if err != nil || w <= 0 {
			return time.Time{}, fmt.Errorf("field selector %s=%s: want a positive duration such as 1h or 168h", v1alpha1.FieldWindow, d)
		}
		return now.Add(-w), nil
	}
	return now.Add(-def), nil
}

// without drops the given fields from a selector: they chose the query,
// and are no property of the objects to match.
func without(sel fields.Selector, drop ...string) (fields.Selector, error) {
	out, err := sel.Transform(func(f, v string) (string, string, error) {
		if slices.Contains(drop, f) {
			return "", "", nil
		}
		return f, v, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the field selector: %w", err)
	}
	return out, nil
}
