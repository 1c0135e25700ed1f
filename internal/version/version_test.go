package version

import (
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	build := func(settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	noBuild := func() (*debug.BuildInfo, bool) { return nil, false }
	cases := []struct {
		name              string
		version, revision string
		read              func() (*debug.BuildInfo, bool)
		want              string
	}{
		{"a stamped build says its version and revision, whatever the toolchain recorded", "0.1.0", "abc123", build("vcs.revision", "fff"), "0.1.0 (revision abc123)"},
		{"an unstamped build is dev, at the toolchain's revision", "", "", build("vcs.revision", "def456", "vcs.modified", "false"), "dev (revision def456)"},
		{"an unstamped build from a changed tree says so", "", "", build("vcs.revision", "def456", "vcs.modified", "true"), "dev (revision def456-dirty)"},
		{"a stamped version without a revision takes the toolchain's", "0.2.0", "", build("vcs.revision", "def456"), "0.2.0 (revision def456)"},
		{"a build with no VCS information is dev alone", "", "", build(), "dev"},
		{"a binary without build information is dev alone", "", "", noBuild, "dev"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := get(c.version, c.revision, c.read).String(); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestMakefileStampsThisPackage keeps make build's -X flags pointing at
// this package's variables: a wrong path links without complaint and
// leaves every release saying "dev".
func TestMakefileStampsThisPackage(t *testing.T) {
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	want := "LDFLAGS := " + LDFlags("$(VERSION)", "$(REVISION)") + "\n"
	if !strings.Contains(string(b), want) {
		t.Errorf("the Makefile has no line %q", want)
	}
}
