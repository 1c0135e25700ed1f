// Package delivery tests graceline's delivery from agents to the collector
// with real processes: the graceline-collector and graceline-agent binaries,
// a load agent built on the real spool and sender, a real SQLite store and
// gRPC over loopback, and SIGKILL.
package delivery

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/graceline/graceline/test/harness"
)

// Binaries built once for every test.
var collectorBin, agentBin, loadBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := harness.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "gl-delivery-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	collectorBin = filepath.Join(dir, "graceline-collector")
	agentBin = filepath.Join(dir, "graceline-agent")
	loadBin = filepath.Join(dir, "loadagent")
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/graceline-collector", "./cmd/graceline-agent", "./test/delivery/loadagent")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build binaries: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
