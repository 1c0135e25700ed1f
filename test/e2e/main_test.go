// Package e2e tests graceline-agent against real containerd and runc
// daemons started by the harness. It needs root; `make test` runs it.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/graceline/graceline/test/harness"
)

var (
	agentBin, collectorBin, cliBin string
	busyboxTar, pauseTar           string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "!!! e2e tests need root to run containerd and runc; SKIPPING ALL E2E TESTS !!!")
		return 0
	}
	root, err := harness.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "gl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	agentBin = filepath.Join(dir, "graceline-agent")
	collectorBin = filepath.Join(dir, "graceline-collector")
	cliBin = filepath.Join(dir, "kubectl-graceline")
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/graceline-agent", "./cmd/graceline-collector", "./cmd/kubectl-graceline")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build graceline binaries: %v\n%s", err, out)
		return 1
	}
	busyboxTar, pauseTar, err = harness.BuildImages(context.Background(), root, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
