// Package ui tests the collector's web UI in a real headless Chromium,
// driven through the DevTools protocol (chromedp), against a collector
// filled by a real agent watching a real containerd 2 started by the
// harness. It needs root and Debian's chromium package; `make test` runs
// it, and without either it fails rather than skips.
package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/graceline/graceline/test/harness"
)

var (
	agentBin, collectorBin string
	busyboxTar, pauseTar   string
	repoRoot               string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "test/ui needs root to run containerd and runc")
		return 1
	}
	var err error
	if repoRoot, err = harness.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "gl-ui-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	agentBin = filepath.Join(dir, "graceline-agent")
	collectorBin = filepath.Join(dir, "graceline-collector")
	if err := harness.BuildCommands(context.Background(), repoRoot, dir, "./cmd/graceline-agent", "./cmd/graceline-collector"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	busyboxTar, pauseTar, err = harness.BuildImages(context.Background(), repoRoot, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
