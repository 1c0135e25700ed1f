package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/graceline/graceline/test/cluster"
)

// down sends SIGTERM to the process that owns the cluster and waits until
// it has torn the cluster down and exited.
func down(ctx context.Context, statePath string) error {
	s, err := cluster.ReadState(statePath)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Println("no cluster is running (no state file", statePath+")")
		return nil
	}
	if err != nil {
		return err
	}
	if !alive(s.PID) {
		os.Remove(statePath)
		return fmt.Errorf("the cluster's process %d is gone without tearing down; look for leftovers under %s", s.PID, s.Dir)
	}
	if err := syscall.Kill(s.PID, syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal cluster process %d: %w", s.PID, err)
	}
	fmt.Printf("stopping the cluster (pid %d)…\n", s.PID)
	deadline := time.Now().Add(5 * time.Minute)
	for alive(s.PID) {
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster process %d still running after 5 minutes", s.PID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	// The process logs its teardown errors and leftovers before it exits.
	logPath := filepath.Join(filepath.Dir(statePath), "cluster.log")
	if b, err := os.ReadFile(logPath); err == nil && strings.Contains(string(b), "graceline-cluster:") {
		_, after, _ := strings.Cut(string(b), "graceline-cluster:")
		return fmt.Errorf("teardown reported:%s", after)
	}
	fmt.Println("cluster stopped; nothing left behind")
	return nil
}
