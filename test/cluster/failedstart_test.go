package cluster_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graceline/graceline/test/cluster"
)

// TestFailedStartTearsDown cancels Start part-way, as a Ctrl-C during
// start-up does, at several points, and checks that the half-started
// cluster left nothing: no directory, daemon, bridge or cgroup. (Start can
// also win the race on a fast machine; then Close must leave nothing.)
func TestFailedStartTearsDown(t *testing.T) {
	for _, after := range []time.Duration{300 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 4500 * time.Millisecond} {
		t.Run("cancelled after "+after.String(), func(t *testing.T) {
			before := clusterTraces()
			ctx, cancel := context.WithTimeout(context.Background(), after)
			defer cancel()
			log := slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
			// Without kube-proxy: the shared cluster runs one on this host.
			c, err := cluster.Start(ctx, cluster.Options{Images: images, NodeName: "cancelled-node", Log: log, NoServices: true})
			if err == nil {
				t.Logf("start finished within %s; closing it instead", after)
				if err := c.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			}
			if left := newTraces(before, clusterTraces()); len(left) > 0 {
				t.Errorf("a cancelled start left behind:\n  %s", strings.Join(left, "\n  "))
			}
		})
	}
}

// clusterTraces lists what any cluster puts on the host under names of its
// own: its directory, processes naming that directory, its bridge, and its
// cgroup root.
func clusterTraces() []string {
	var out []string
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "gl-k8s-*"))
	out = append(out, dirs...)
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), filepath.Join(os.TempDir(), "gl-k8s-")) {
			out = append(out, "process "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	bridges, _ := filepath.Glob("/sys/class/net/glk8s*")
	out = append(out, bridges...)
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/graceline-*")
	return append(out, cgroups...)
}

// newTraces lists the traces in after that were not in before.
func newTraces(before, after []string) []string {
	var out []string
	for _, a := range after {
		if !slices.Contains(before, a) {
			out = append(out, a)
		}
	}
	return out
}
