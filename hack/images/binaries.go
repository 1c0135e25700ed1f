package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/graceline/graceline/internal/version"
)

// compile builds the commands for one architecture into dir, static
// (CGO_ENABLED=0) and reproducible: -trimpath keeps the build directory
// out, -buildvcs=false keeps the tree's state out (the revision is stamped
// instead), and -s -w drop the symbol tables, as the Dockerfiles do.
func compile(ctx context.Context, root, dir, arch, ver, rev string, commands ...string) error {
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w " + version.LDFlags(ver, rev), "-o", dir + "/"}
	for _, c := range commands {
		args = append(args, "./cmd/"+c)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("compile for linux/%s: %w\n%s", arch, err, out)
	}
	return nil
}
