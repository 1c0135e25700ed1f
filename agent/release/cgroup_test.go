package release

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/graceline/graceline/agent/cgroups"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
)

// fakeKernel stands for the eBPF probe: it keeps the watched ids, and can
// be told to refuse them as a full map would.
type fakeKernel struct {
	ids  map[uint64]bool
	full bool
}

func (k *fakeKernel) WatchCgroup(id uint64) error {
	if k.full {
		return errors.New("map full")
	}
	k.ids[id] = true
	return nil
}

func (k *fakeKernel) UnwatchCgroup(id uint64) error {
	delete(k.ids, id)
	return nil
}

// cgroupHost lays out a cgroup root in a temporary directory: one cgroup v2
// hierarchy, or the given v1 hierarchies.
type cgroupHost struct {
	root string
	v1   []string
}

func newCgroupHost(t *testing.T, v1 ...string) *cgroupHost {
	h := &cgroupHost{root: t.TempDir(), v1: v1}
	if len(v1) == 0 {
		if err := os.WriteFile(filepath.Join(h.root, "cgroup.controllers"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func (h *cgroupHost) dirs(rel string) []string {
	if len(h.v1) == 0 {
		return []string{filepath.Join(h.root, rel)}
	}
	var out []string
	for _, c := range h.v1 {
		out = append(out, filepath.Join(h.root, c, rel))
	}
	return out
}

func (h *cgroupHost) create(t *testing.T, rel string) {
	for _, d := range h.dirs(rel) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// rmdir removes rel's directory on hierarchy i and returns its id.
func (h *cgroupHost) rmdir(t *testing.T, rel string, i int) uint64 {
	d := h.dirs(rel)[i]
	id, err := cgroups.ID(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(d); err != nil {
		t.Fatal(err)
	}
	return id
}

type recorder struct {
	events  []*apiv1.Event
	foundBy []string
}

func (r *recorder) emit(e *apiv1.Event) { r.events = append(r.events, e) }

func (r *recorder) cgroupRemovals() []*apiv1.Event {
	var out []*apiv1.Event
	for _, e := range r.events {
		if e.Kind == apiv1.KindCgroupRemoved {
			out = append(out, e)
		}
	}
	return out
}

const testCgroup = "/k8s.io/c1"

func container(stopped bool) cri.ContainerInfo {
	return cri.ContainerInfo{ID: "c1", Meta: cri.Meta{PodUID: "u1", ContainerName: "main"}, Pid: 42, CgroupsPath: testCgroup, Stopped: stopped}
}

func newTestWatcher(h *cgroupHost, k KernelCgroups) (*Watcher, *recorder) {
	rec := &recorder{}
	w := New("node", rec.emit, Config{Period: time.Hour, Recheck: time.Hour, GiveUp: time.Hour, CgroupRoot: h.root})
	w.CountCgroupRemovals(func(by string) { rec.foundBy = append(rec.foundBy, by) })
	if k != nil {
		w.UseKernel(k)
	}
	return w, rec
}

func TestCgroupRemovalEvents(t *testing.T) {
	kernelTime := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	cases := []struct {
		name    string
		v1      []string
		full    bool
		foundBy string
		// run drives the watcher through one container's stop and its
		// cgroup's removal, and returns the time the removal should carry
		// (zero: any time).
		run func(t *testing.T, h *cgroupHost, w *Watcher) time.Time
	}{
		{
			name:    "a removal reported before the stop is emitted at the stop with the kernel's time",
			foundBy: FoundByKernel,
			run: func(t *testing.T, h *cgroupHost, w *Watcher) time.Time {
				w.ContainerChanged(container(false))
				w.CgroupRemoved(h.rmdir(t, testCgroup, 0), kernelTime)
				w.ContainerChanged(container(true))
				w.poll()
				return kernelTime
			},
		},
		{
			name:    "a removal reported after the stop is emitted at once with the kernel's time",
			foundBy: FoundByKernel,
			run: func(t *testing.T, h *cgroupHost, w *Watcher) time.Time {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				w.poll()
				w.CgroupRemoved(h.rmdir(t, testCgroup, 0), kernelTime)
				w.poll()
				return kernelTime
			},
		},
		{
			name:    "on cgroup v1 the owner is done when the last hierarchy's directory goes",
			v1:      []string{"cpu", "memory", "pids"},
			foundBy: FoundByKernel,
			run: func(t *testing.T, h *cgroupHost, w *Watcher) time.Time {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				for i := range 2 {
					w.CgroupRemoved(h.rmdir(t, testCgroup, i), kernelTime.Add(-time.Second))
				}
				w.poll()
				w.CgroupRemoved(h.rmdir(t, testCgroup, 2), kernelTime)
				return kernelTime
			},
		},
		{
			name:    "a removal whose event was lost is found by the recheck",
			foundBy: FoundByStat,
			run: func(t *testing.T, h *cgroupHost, w *Watcher) time.Time {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				h.rmdir(t, testCgroup, 0)
				w.poll() // not due yet
				if n := len(w.pending); n != 1 {
					t.Fatalf("%d pending before the recheck, want 1", n)
				}
				w.cfg.Recheck = time.Nanosecond
				w.poll()
				return time.Time{}
			},
		},
		{
			name:    "a directory removed before it was followed is found at the stop",
			foundBy: FoundByStat,
			run: func(t *testing.T, h *cgroupHost, w *Watcher) time.Time {
				h.rmdir(t, testCgroup, 0)
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				return time.Time{}
			},
		},
		{
			name:    "a cgroup the kernel cannot follow is polled for",
			full:    true,
			foundBy: FoundByStat,
			run: func(t *testing.T, h *cgroupHost, w *Watcher) time.Time {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				w.poll()
				h.rmdir(t, testCgroup, 0)
				w.poll()
				return time.Time{}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newCgroupHost(t, tc.v1...)
			h.create(t, testCgroup)
			k := &fakeKernel{ids: map[uint64]bool{}, full: tc.full}
			w, rec := newTestWatcher(h, k)
			want := tc.run(t, h, w)
			// Late events and polls change nothing.
			w.CgroupRemoved(1, kernelTime)
			w.poll()
			got := rec.cgroupRemovals()
			if len(got) != 1 {
				t.Fatalf("%d cgroup_removed events, want 1: %v", len(got), got)
			}
			if e := got[0]; e.Path != testCgroup || e.Container.GetId() != "c1" || e.Pod.GetUid() != "u1" {
				t.Errorf("cgroup_removed %v", e)
			}
			if len(rec.foundBy) != 1 || rec.foundBy[0] != tc.foundBy {
				t.Errorf("counted as found by %v, want %s", rec.foundBy, tc.foundBy)
			}
			if !want.IsZero() && !got[0].Time.AsTime().Equal(want) {
				t.Errorf("time %s, want the kernel's %s", got[0].Time.AsTime(), want)
			}
			if len(k.ids) != 0 || len(w.byID) != 0 || len(w.pending) != 0 {
				t.Errorf("left behind: kernel ids %v, watcher ids %v, %d pending", k.ids, w.byID, len(w.pending))
			}
		})
	}
}

// TestCgroupRemovalNotYet checks that an event for a directory that still
// exists (another hierarchy's with the same id, or one of several) emits
// nothing, and that giving up takes the ids back from the kernel.
func TestCgroupRemovalNotYet(t *testing.T) {
	h := newCgroupHost(t, "cpu", "memory")
	h.create(t, testCgroup)
	k := &fakeKernel{ids: map[uint64]bool{}}
	w, rec := newTestWatcher(h, k)
	w.ContainerChanged(container(false))
	if len(k.ids) != 2 {
		t.Fatalf("kernel watches %v, want both directories", k.ids)
	}
	w.ContainerChanged(container(true))
	for id := range k.ids {
		w.CgroupRemoved(id, time.Now())
	}
	if n := len(rec.cgroupRemovals()); n != 0 {
		t.Fatalf("%d cgroup_removed for directories that exist", n)
	}
	w.cfg.GiveUp = time.Nanosecond
	w.poll()
	if len(k.ids) != 0 || len(w.pending) != 0 || len(rec.cgroupRemovals()) != 0 {
		t.Errorf("after giving up: kernel ids %v, %d pending, %d events", k.ids, len(w.pending), len(rec.cgroupRemovals()))
	}
}

// TestCgroupPolledWithoutKernel keeps the polling path: no kernel, the
// removal is found by the next poll.
func TestCgroupPolledWithoutKernel(t *testing.T) {
	h := newCgroupHost(t)
	h.create(t, testCgroup)
	w, rec := newTestWatcher(h, nil)
	w.ContainerChanged(container(false))
	w.ContainerChanged(container(true))
	w.poll()
	if n := len(rec.cgroupRemovals()); n != 0 {
		t.Fatalf("%d cgroup_removed while the directory exists", n)
	}
	h.rmdir(t, testCgroup, 0)
	w.poll()
	w.poll()
	if n := len(rec.cgroupRemovals()); n != 1 {
		t.Errorf("%d cgroup_removed, want 1", n)
	}
}
