package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graceline/graceline/bpf/internal/probetest"
	"github.com/graceline/graceline/bpf/probe"
)

// withID selects the events about the cgroup with this id.
func withID(id uint64) func(Event) bool {
	return func(e Event) bool { return e.ID == id }
}

// cgroupHierarchies lists the hierarchies to create test cgroups in: the
// cgroup v2 one (at the root on a pure v2 host, under unified on a hybrid
// one), and one v1 controller where there are v1 hierarchies.
func cgroupHierarchies() map[string]string {
	out := map[string]string{}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		out["cgroup v2"] = "/sys/fs/cgroup"
		return out
	}
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil {
		out["cgroup v2"] = "/sys/fs/cgroup/unified"
	}
	for _, c := range []string{"pids", "memory", "cpu"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c, "cgroup.procs")); err == nil {
			out["cgroup v1 "+c] = filepath.Join("/sys/fs/cgroup", c)
			break
		}
	}
	return out
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestCgroupRmdir creates two cgroups in a fresh directory of each
// hierarchy, watches one, and removes both: the watched one is reported
// with its path from the hierarchy's root, its hierarchy and its id, the
// other is dropped in the kernel.
func TestCgroupRmdir(t *testing.T) {
	probetest.RequireRoot(t)
	hierarchies := cgroupHierarchies()
	if len(hierarchies) == 0 {
		t.Fatal("no cgroup hierarchy mounted under /sys/fs/cgroup")
	}
	shared := probetest.Open(t, probe.Config{HostMntNS: probetest.HostMntNS(t), RatePerSec: 1000, Burst: 1000})
	p, err := New(shared)
	if err != nil {
		t.Fatalf("cgroup_rmdir probe: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	c := &probetest.Collector[Event]{}
	probetest.Run(t, shared, p.Events(c.Add))
	for name, root := range hierarchies {
		t.Run("a watched "+name+" directory's removal is reported and an unwatched one's is not", func(t *testing.T) {
			top := filepath.Join(root, fmt.Sprintf("graceline-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
			watched, ignored := filepath.Join(top, "watched"), filepath.Join(top, "ignored")
			for _, d := range []string{top, watched, ignored} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() {
				for _, d := range []string{watched, ignored, top} {
					os.Remove(d)
				}
			})
			watchedID, ignoredID := inode(t, watched), inode(t, ignored)
			if err := p.WatchCgroup(watchedID); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.UnwatchCgroup(watchedID) })
			// The ignored one goes first: once the watched one's event is
			// in, the ring buffer would have shown the other before it.
			for _, d := range []string{ignored, watched} {
				if err := os.Remove(d); err != nil {
					t.Fatal(err)
				}
			}
			removed := time.Now()

			e := c.Wait(t, fmt.Sprintf("cgroup_rmdir for %s (id %d)", watched, watchedID), withID(watchedID))
			wantPath := "/" + filepath.Base(top) + "/watched"
			if e.Path != wantPath || e.PathTruncated {
				t.Errorf("path %q (truncated %v), want %q", e.Path, e.PathTruncated, wantPath)
			}
			if v2 := name == "cgroup v2"; v2 != (e.Hierarchy == 0) {
				t.Errorf("hierarchy id %d for %s", e.Hierarchy, name)
			}
			if d := removed.Sub(e.Time).Abs(); d > 2*time.Second {
				t.Errorf("event time %s is %s away from the removal", e.Time, d)
			}
			if o, found := c.Find(withID(ignoredID)); found {
				t.Errorf("unwatched cgroup reported: %+v", o)
			}
		})
	}
}
