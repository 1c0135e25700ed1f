// Package version says which graceline a binary is. The build stamps it
// with -ldflags -X (make build and make images do); a binary built without
// the stamp, by go build or go install, still names its commit through the
// VCS information the Go toolchain records.
package version

import (
	"runtime/debug"
	"strings"
)

// Stamped at build time:
//
//	-X github.com/graceline/graceline/internal/version.version=0.1.0
//	-X github.com/graceline/graceline/internal/version.revision=<commit>
//
// They are unexported variables, not constants, because -X can only set
// string variables; nothing else writes them.
var (
	version  = ""
	revision = ""
)

// Dev is the version of a binary that was not stamped.
const Dev = "dev"

// Info is what a binary knows of its own build.
type Info struct {
	// Version is the release, or Dev.
	Version string
	// Revision is the commit the binary was built from, with a -dirty
	// suffix when the tree had changes; empty when unknown.
	Revision string
}

// Get returns the stamped version and revision. Where nothing was stamped
// it falls back to Dev and to the VCS revision the toolchain recorded.
func Get() Info {
	return get(version, revision, debug.ReadBuildInfo)
}

// get is Get with its inputs passed in, so that tests can give it any build.
func get(version, revision string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: version, Revision: revision}
	if info.Version == "" {
		info.Version = Dev
	}
	if info.Revision != "" {
		return info
	}
	bi, ok := read()
	if !ok {
		return info
	}
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if info.Revision != "" && modified {
		info.Revision += "-dirty"
	}
	return info
}

// String is the line --version prints: "0.1.0 (revision 1c2d59f…)", or the
// version alone when the revision is unknown.
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Version)
	if i.Revision != "" {
		b.WriteString(" (revision " + i.Revision + ")")
	}
	return b.String()
}

// pkg is this package's import path, which -X needs.
const pkg = "github.com/graceline/graceline/internal/version"

// LDFlags are the linker flags that stamp v and rev into a binary, for the
// tools that build graceline's binaries (the Makefile spells out the same).
func LDFlags(v, rev string) string {
	return "-X " + pkg + ".version=" + v + " -X " + pkg + ".revision=" + rev
}
