package release

import (
	"fmt"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
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
			w.CgroupRemoved(id, testCgroup, time.Now())
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

// TestPeriodsFollowTheClock checks that the watcher's periods are measured
// on its clock: each change comes when the clock passes its period, and not
// a nanosecond before.
func TestPeriodsFollowTheClock(t *testing.T) {
	cases := []struct {
		name   string
		kernel bool
		// start brings the watcher to where the period runs from.
		start func(t *testing.T, h *cgroupHost, w *Watcher)
		// after is how long after start the change is due.
		after time.Duration
		// state is what the change changes.
		state         func(w *Watcher, rec *recorder) string
		before, later string
	}{
		{
			name:   "a followed cgroup whose removal event was lost is checked once the recheck period has passed",
			kernel: true,
			start: func(t *testing.T, h *cgroupHost, w *Watcher) {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				h.rmdir(t, testCgroup, 0)
			},
			after: testPeriod,
			state: func(w *Watcher, rec *recorder) string {
				return fmt.Sprintf("%d removals found by %v", len(rec.cgroupRemovals()), rec.foundBy)
			},
			before: "0 removals found by []",
			later:  "1 removals found by [stat]",
		},
		{
			name: "a resource still held is given up once the give-up period has passed",
			start: func(t *testing.T, h *cgroupHost, w *Watcher) {
				w.SandboxChanged(cri.SandboxInfo{ID: "s1", Meta: cri.Meta{PodUID: "u1"}, NetNS: h.root, Stopped: true})
			},
			after: testPeriod + time.Nanosecond,
			state: func(w *Watcher, rec *recorder) string {
				return fmt.Sprintf("%d pending, %d events", len(w.pending), len(rec.events))
			},
			before: "1 pending, 0 events",
			later:  "0 pending, 0 events",
		},
		{
			name: "a removed container whose snapshot removal never came is forgotten once the give-up period has passed",
			start: func(t *testing.T, h *cgroupHost, w *Watcher) {
				w.ContainerChanged(container(false))
				c := container(true)
				c.Removed = true
				w.ContainerChanged(c)
			},
			after:  testPeriod + time.Nanosecond,
			state:  func(w *Watcher, rec *recorder) string { return fmt.Sprintf("%d containers", len(w.containers)) },
			before: "1 containers",
			later:  "0 containers",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newCgroupHost(t)
			h.create(t, testCgroup)
			var k KernelCgroups
			if tc.kernel {
				k = &fakeKernel{ids: map[uint64]bool{}}
			}
			clock := newFakeClock()
			w, rec := newWatcherAt(h, k, clock)
			tc.start(t, h, w)
			clock.Advance(tc.after - time.Nanosecond)
			w.poll()
			if got := tc.state(w, rec); got != tc.before {
				t.Errorf("a nanosecond before: %s, want %s", got, tc.before)
			}
			clock.Advance(time.Nanosecond)
			w.poll()
			if got := tc.state(w, rec); got != tc.later {
				t.Errorf("when due: %s, want %s", got, tc.later)
			}
		})
	}
}
