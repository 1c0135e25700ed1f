package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/graceline/graceline/test/cluster"
	"github.com/graceline/graceline/test/harness"
)

// up starts the cluster, writes the state file, and waits for SIGINT or
// SIGTERM (Ctrl-C, or "down"), then tears everything down.
func up(ctx context.Context, log *slog.Logger, statePath string) error {
	if s, err := cluster.ReadState(statePath); err == nil && alive(s.PID) {
		return fmt.Errorf("a cluster already runs (pid %d, kubeconfig %s); stop it first with: make cluster-down", s.PID, s.Kubeconfig)
	}
	// A signal during start-up cancels it, and Start tears down what it began.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	imgDir, err := os.MkdirTemp("", "gl-images-")
	if err != nil {
		return fmt.Errorf("create image dir: %w", err)
	}
	defer os.RemoveAll(imgDir)
	busybox, pause, err := harness.BuildImages(ctx, root, imgDir)
	if err != nil {
		return fmt.Errorf("build images: %w", err)
	}
	c, err := cluster.Start(ctx, cluster.Options{Images: []string{busybox, pause}, Log: log})
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	defer os.Remove(statePath)
	err = cluster.WriteState(statePath, c.State())
	if err == nil {
		fmt.Printf("cluster ready in %s\n", c.StartupTime.Round(time.Millisecond))
		fmt.Printf("  export KUBECONFIG=%s\n", c.Kubeconfig)
		fmt.Printf("  images: %s, %s (use imagePullPolicy: Never)\n", harness.BusyboxImage, harness.PauseImage)
		fmt.Printf("  watch it: _output/bin/graceline-agent --output - --node-name %s --cri-endpoint %s\n", c.NodeName, c.Containerd.Endpoint())
		fmt.Printf("  stop it: Ctrl-C, or make cluster-down\n")
		<-ctx.Done()
		log.Info("stopping cluster")
	}
	cerr := c.Close()
	if left := c.Leftovers(); len(left) > 0 {
		cerr = errors.Join(cerr, fmt.Errorf("left behind:\n  %s", strings.Join(left, "\n  ")))
	}
	return errors.Join(err, cerr)
}

// upDetached runs "up" in a new session with its output in a log file
// beside the state file, and returns once the cluster is ready.
func upDetached(ctx context.Context, statePath string) error {
	if s, err := cluster.ReadState(statePath); err == nil && alive(s.PID) {
		return fmt.Errorf("a cluster already runs (pid %d); export KUBECONFIG=%s", s.PID, s.Kubeconfig)
	}
	os.Remove(statePath)
	if err := os.MkdirAll(filepath.Dir(statePath), 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	logPath := filepath.Join(filepath.Dir(statePath), "cluster.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create cluster log: %w", err)
	}
	defer logf.Close()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	cmd := exec.Command(self, "up", "--state", statePath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// A session of its own: closing the terminal does not stop the cluster.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start cluster process: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Printf("starting the cluster (pid %d, log %s)…\n", cmd.Process.Pid, logPath)
	deadline := time.After(10 * time.Minute)
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("cluster process exited (%v); log:\n%s", err, b)
		case <-deadline:
			return fmt.Errorf("cluster not ready after 10 minutes; see %s", logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if s, err := cluster.ReadState(statePath); err == nil {
			fmt.Printf("cluster ready (node %s)\n  export KUBECONFIG=%s\n  graceline-agent --output - --node-name %s --cri-endpoint %s\n  stop it: make cluster-down\n",
				s.Node, s.Kubeconfig, s.Node, s.CRIEndpoint)
			return nil
		}
	}
}

// alive reports whether a process with the pid exists.
func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}
