package release

import (
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Period: 200 * time.Millisecond, Recheck: 10 * time.Second, GiveUp: 10 * time.Minute}
	cases := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"the defaults are accepted", func(*Config) {}, true},
		{"a zero poll period is refused", func(c *Config) { c.Period = 0 }, false},
		{"a poll period above the bound is refused", func(c *Config) { c.Period = 2 * MaxPeriod }, false},
		{"a zero recheck period is refused", func(c *Config) { c.Recheck = 0 }, false},
		{"a recheck period above the bound is refused", func(c *Config) { c.Recheck = 2 * MaxPeriod }, false},
		{"a zero give-up is refused", func(c *Config) { c.GiveUp = 0 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.change(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestSnapshotBeforeStop: containerd 1.6, seen through a relist, can remove
// a container's snapshot before the agent learns that it stopped. Its
// cgroup is still watched, and each release is reported once.
func TestSnapshotBeforeStop(t *testing.T) {
	for _, kernel := range []bool{false, true} {
		name := "without the kernel's events"
		if kernel {
			name = "with the kernel's events"
		}
		t.Run(name, func(t *testing.T) {
			h := newCgroupHost(t)
			h.create(t, testCgroup)
			var k KernelCgroups
			fk := &fakeKernel{ids: map[uint64]bool{}}
			if kernel {
				k = fk
			}
			w, rec := newTestWatcher(h, k)
			w.ContainerChanged(container(false))
			id := h.rmdir(t, testCgroup, 0)
			w.CgroupRemoved(id, time.Now())
			w.SnapshotRemoved("c1", "overlayfs", time.Now())
			w.SnapshotRemoved("c1", "overlayfs", time.Now())
			stopped := container(true)
			w.ContainerChanged(stopped)
			stopped.Removed = true
			w.ContainerChanged(stopped)
			w.poll()
			counts := map[string]int{}
			for _, e := range rec.events {
				counts[e.Kind]++
			}
			if counts[apiv1.KindCgroupRemoved] != 1 || counts[apiv1.KindRootfsReleased] != 1 {
				t.Errorf("events %v, want one cgroup_removed and one rootfs_released", counts)
			}
			if len(w.containers) != 0 || len(fk.ids) != 0 {
				t.Errorf("left behind: %d containers, kernel ids %v", len(w.containers), fk.ids)
			}
		})
	}
}
