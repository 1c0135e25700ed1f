package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
)

// BuildCommands builds the given main packages of the repository at root
// (as "./cmd/graceline-agent") into dir, each binary named after its
// package, so tests and the demo run the real programs. They are static,
// as the images ship them: a cgo build would map libc too, and measure
// more memory than a node sees.
func BuildCommands(ctx context.Context, root, dir string, pkgs ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + "/"}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %v: %w\n%s", pkgs, err, out)
	}
	return nil
}
