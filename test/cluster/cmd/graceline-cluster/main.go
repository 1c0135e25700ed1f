// Command graceline-cluster starts and stops graceline's real single-node
// Kubernetes by hand (make cluster-up / make cluster-down).
//
//	graceline-cluster up [--detach] [--state FILE]   start; Ctrl-C or "down" tears it down
//	graceline-cluster down [--state FILE]            stop the cluster the state file names
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/graceline/graceline/test/harness"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), log, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "graceline-cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: graceline-cluster up|down [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	state := fs.String("state", defaultStatePath(), "state file: written by up, read by down")
	detach := fs.Bool("detach", false, "up: run the cluster in the background and return once it is ready")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "up":
		if os.Geteuid() != 0 {
			return fmt.Errorf("the cluster runs a kubelet, containerd and runc and needs root")
		}
		if *detach {
			return upDetached(ctx, *state)
		}
		return up(ctx, log, *state)
	case "down":
		return down(ctx, *state)
	default:
		return fmt.Errorf("unknown command %q: want up or down", args[0])
	}
}

// defaultStatePath is _output/cluster/state.json in the repository.
func defaultStatePath() string {
	root, err := harness.RepoRoot()
	if err != nil {
		root = "."
	}
	return filepath.Join(root, "_output", "cluster", "state.json")
}
