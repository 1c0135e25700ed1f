// Command demo shows graceline on a real single-node Kubernetes cluster: it
// starts the cluster, installs graceline into it as a user does (its images
// imported into the node's containerd, `helm install` with the node's paths),
// deletes pods through the API (graceful, ignoring SIGTERM, with a preStop
// hook, one whose runtime shim hangs until the demo releases it, one held by
// a finalizer), and prints each pod's timeline with kubectl-graceline,
// reaching the in-cluster collector through a port-forward. It uninstalls
// and cleans up on exit and on Ctrl-C.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/graceline/graceline/test/cluster"
	"github.com/graceline/graceline/test/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func run(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the demo runs a kubelet, containerd and runc, and needs root")
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gl-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	step("building kubectl-graceline and the local busybox and pause images")
	bin := filepath.Join(dir, "bin")
	if err := harness.BuildCommands(ctx, root, bin, "./cmd/kubectl-graceline"); err != nil {
		return err
	}
	busybox, pause, err := harness.BuildImages(ctx, root, dir)
	if err != nil {
		return err
	}

	step("starting a single-node Kubernetes v1.37.2: etcd, kube-apiserver, controller-manager, scheduler, kubelet on containerd 2.x")
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := cluster.Start(ctx, cluster.Options{Images: []string{busybox, pause}, Log: log})
	if err != nil {
		return err
	}
	defer func() {
		step("stopping the cluster")
		c.Close()
	}()
	fmt.Printf("    ready in %s (kubeconfig %s)\n", c.StartupTime.Round(1e7), c.Kubeconfig)

	step("installing graceline as a user does: make images, imported into the node's containerd; helm install; a port-forward to the collector")
	g, err := installGraceline(ctx, root, bin, dir, c)
	if err != nil {
		return err
	}
	defer func() {
		step("helm uninstall graceline")
		g.uninstall(context.Background())
	}()

	cs, err := c.Client()
	if err != nil {
		return err
	}
	if err := setUp(ctx, cs); err != nil {
		return err
	}
	for _, sc := range scenarios {
		if err := sc.run(ctx, cs, g); err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		out, err := g.cli(ctx, "timeline", "demo/"+sc.name)
		if err != nil {
			return fmt.Errorf("timeline of %s: %w", sc.name, err)
		}
		fmt.Println(out)
	}
	step("recent terminations")
	out, err := g.cli(ctx, "list", "-n", "demo")
	if err != nil {
		return err
	}
	fmt.Println(out)
	return nil
}
