package cri

import (
	"fmt"
	"strconv"
	"strings"
)

// Runtime is what the runtime said about itself through Version.
type Runtime struct {
	Name    string // "containerd", "cri-o", ...
	Version string // as reported, e.g. "v2.4.2" or "1.6.20~ds1"
	Major   int
	Minor   int
}

func (r Runtime) String() string { return r.Name + " " + r.Version }

// IsContainerd reports whether the runtime is containerd, whose own event API
// then gives exact exit times and OOM kills.
func (r Runtime) IsContainerd() bool { return r.Name == "containerd" }

// EventStreamSafe reports whether graceline may subscribe to the runtime's
// GetContainerEvents stream. containerd 1.6 does not implement it, and in
// containerd 1.7 the stream is a single queue shared by every caller, so a
// second subscriber steals events from the kubelet. containerd 2.0 fans events
// out to each subscriber, and CRI-O always has.
func (r Runtime) EventStreamSafe() bool {
	switch r.Name {
	case "containerd":
		return r.Major >= 2
	case "cri-o":
		return true
	default:
		return false
	}
}

// ParseRuntime builds a Runtime from a Version reply's name and version.
func ParseRuntime(name, version string) (Runtime, error) {
	r := Runtime{Name: name, Version: version}
	v := strings.TrimPrefix(version, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return r, fmt.Errorf("parse runtime version %q: want major.minor", version)
	}
	var err error
	if r.Major, err = strconv.Atoi(parts[0]); err != nil {
		return r, fmt.Errorf("parse runtime version %q: %w", version, err)
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(c rune) bool { return c < '0' || c > '9' }); i >= 0 {
		minor = minor[:i]
	}
	if r.Minor, err = strconv.Atoi(minor); err != nil {
		return r, fmt.Errorf("parse runtime version %q: %w", version, err)
	}
	return r, nil
}
