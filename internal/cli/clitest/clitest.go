// Package clitest builds a command once per test binary and runs it the
// way a person would, for tests of its command line.
package clitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/graceline/graceline/internal/version"
)

// The version and revision Build stamps, as make build stamps the real
// ones, so that tests see the stamp arrive.
const (
	Version  = "0.0.0-clitest"
	Revision = "clitest"
)

// Build compiles the main package in the current directory into dir,
// stamped with Version and Revision, and returns the binary's path.
func Build(dir, name string) (string, error) {
	bin := dir + "/" + name
	out, err := exec.Command("go", "build", "-ldflags", version.LDFlags(Version, Revision), "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", name, err, out)
	}
	return bin, nil
}

// Main builds the command for the tests of m, runs them and exits; *bin
// is the binary's path while they run.
func Main(m *testing.M, name string, bin *string) {
	dir, err := os.MkdirTemp("", name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin, err = Build(dir, name)
	code := 1
	if err == nil {
		code = m.Run()
	} else {
		fmt.Fprintln(os.Stderr, err)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// Result is how a run ended.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Lines are the lines of stderr, without the final newline.
func (r Result) Lines() []string {
	s := strings.TrimSuffix(r.Stderr, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Run runs bin with args and an empty environment but for PATH and HOME,
// and returns its exit status and output. A run that outlives a minute is
// a test failure: every invocation here is expected to end by itself.
func Run(t *testing.T, bin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
	default:
		t.Fatalf("run %s: %v", bin, err)
	}
	return Result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
}

// CheckVersion runs bin --version, which must print "name Version
// (revision Revision)" on stdout alone and exit 0.
func CheckVersion(t *testing.T, bin, name string) {
	t.Helper()
	r := Run(t, bin, "--version")
	want := name + " " + Version + " (revision " + Revision + ")\n"
	if r.Code != 0 || r.Stdout != want || r.Stderr != "" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q; want 0, %q, nothing", r.Code, r.Stdout, r.Stderr, want)
	}
}
