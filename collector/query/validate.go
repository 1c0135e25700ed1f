package query

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// The longest names a query may carry, Kubernetes' own: a namespace is a DNS
// label, a pod or node name a DNS subdomain. A UID is a UUID; the bound
// leaves room for other forms without letting a request carry megabytes.
const (
	maxNamespaceLen = 63
	maxNameLen      = 253
	maxUIDLen       = 128
)

// echoLen bounds how much of a refused value an error repeats.
const echoLen = 64

// epoch is the earliest time the store orders by; a since before it bounds
// nothing.
var epoch = time.Unix(0, 0)

// Validate checks a listing's filter at now. Every face of the service
// (gRPC, HTTP) applies the same rules, so that an unknown verdict never
// becomes a scan of every pod. The error, wrapping ErrInvalid, is one line
// naming the parameter and what it accepts.
func (f ListFilter) Validate(now time.Time) error {
	if err := checkNames(field{"namespace", f.Namespace, maxNamespaceLen}, field{"node", f.Node, maxNameLen}); err != nil {
		return err
	}
	if f.Verdict != "" && !slices.Contains(apiv1.Verdicts(), f.Verdict) {
		return fmt.Errorf("%w: verdict: want one of %s, got %.*q", ErrInvalid, strings.Join(apiv1.Verdicts(), ", "), echoLen, f.Verdict)
	}
	if f.Since.After(now) {
		return fmt.Errorf("%w: since: want a time in the past, got %s, which is in the future", ErrInvalid, f.Since.UTC().Format(time.RFC3339))
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		return fmt.Errorf("%w: limit: want 1 to %d (%d when absent), got %d", ErrInvalid, MaxLimit, DefaultLimit, f.Limit)
	}
	return nil
}

// ParseSince reads a listing's since as text gives it: an RFC 3339 time or a
// positive duration back from now. Empty means no bound.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%w: since: want a positive duration or an RFC 3339 time, got %.*q", ErrInvalid, echoLen, s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: since: want an RFC 3339 time or a positive duration (1h), got %.*q", ErrInvalid, echoLen, s)
	}
	return t, nil
}

// ParseLimit reads a listing's limit as text gives it; empty means the
// default. The range is checked by Validate.
func ParseLimit(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: limit: want an integer from 1 to %d, got %.*q", ErrInvalid, MaxLimit, echoLen, s)
	}
	return n, nil
}

// field is one name-like parameter of a query and its longest allowed value.
type field struct {
	param, value string
	max          int
}

// checkNames bounds the length of the names a query filters on.
func checkNames(fields ...field) error {
	for _, n := range fields {
		if len(n.value) > n.max {
			return fmt.Errorf("%w: %s: want at most %d characters, got %d", ErrInvalid, n.param, n.max, len(n.value))
		}
	}
	return nil
}
