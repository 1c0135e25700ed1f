package termination

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupEvent returns the first EventCgroupRmdir with this id, if any.
func (c *collector) cgroupEvent(id uint64) *Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.events {
		if e := &c.events[i]; e.Type == EventCgroupRmdir && e.CgroupID == id {
			cp := *e
			return &cp
		}
	}
	return nil
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
	requireRoot(t)
	hierarchies := cgroupHierarchies()
	if len(hierarchies) == 0 {
		t.Fatal("no cgroup hierarchy mounted under /sys/fs/cgroup")
	}
	p, err := New(Config{HostMntNS: hostMntNS(t), RatePerSec: 1000, Burst: 1000})
	if err != nil {
		t.Fatalf("load probes: %v", err)
	}
	if err := p.CgroupRmdirErr(); err != nil {
		t.Fatalf("cgroup_rmdir probe: %v", err)
	}
	c := runProbe(t, p)
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

			var e *Event
			for deadline := time.Now().Add(10 * time.Second); e == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				e = c.cgroupEvent(watchedID)
			}
			if e == nil {
				t.Fatalf("no cgroup_rmdir event for %s (id %d)", watched, watchedID)
			}
			wantPath := "/" + filepath.Base(top) + "/watched"
			if e.CgroupPath != wantPath || e.CgroupPathTruncated {
				t.Errorf("path %q (truncated %v), want %q", e.CgroupPath, e.CgroupPathTruncated, wantPath)
			}
			if v2 := name == "cgroup v2"; v2 != (e.CgroupHierarchy == 0) {
				t.Errorf("hierarchy id %d for %s", e.CgroupHierarchy, name)
			}
			if d := removed.Sub(e.Time).Abs(); d > 2*time.Second {
				t.Errorf("event time %s is %s away from the removal", e.Time, d)
			}
			if o := c.cgroupEvent(ignoredID); o != nil {
				t.Errorf("unwatched cgroup reported: %+v", o)
			}
		})
	}
}
