package release

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
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

// fakeClock is the watcher's clock in tests: time moves only when the test
// moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testPeriod is every period of a test watcher: the poll's, the recheck's
// and the give-up's. Tests move the watcher's clock past it.
const testPeriod = time.Hour

func newTestWatcher(h *cgroupHost, k KernelCgroups) (*Watcher, *recorder) {
	return newWatcherAt(h, k, newFakeClock())
}

// newWatcherAt returns a test watcher that reads the time from clock.
func newWatcherAt(h *cgroupHost, k KernelCgroups, clock *fakeClock) (*Watcher, *recorder) {
	rec := &recorder{}
	w := New("node", rec.emit, Config{Period: testPeriod, Recheck: testPeriod, GiveUp: testPeriod, CgroupRoot: h.root, Now: clock.Now})
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
		run func(t *testing.T, h *cgroupHost, w *Watcher, clock *fakeClock) time.Time
	}{
		{
			name:    "a removal reported before the stop is emitted at once with the kernel's time, and not again at the stop",
			foundBy: FoundByKernel,
			run: func(t *testing.T, h *cgroupHost, w *Watcher, clock *fakeClock) time.Time {
				w.ContainerChanged(container(false))
				rec := &recorder{}
				emit := w.emit
				w.emit = func(e *apiv1.Event) { rec.emit(e); emit(e) }
				w.CgroupRemoved(h.rmdir(t, testCgroup, 0), testCgroup, kernelTime)
				if n := len(rec.cgroupRemovals()); n != 1 {
					t.Errorf("%d cgroup_removed before the runtime reported the stop, want 1", n)
				}
				w.ContainerChanged(container(true))
				w.poll()
				return kernelTime
			},
		},
		{
			name:    "a removal reported after the stop is emitted at once with the kernel's time",
			foundBy: FoundByKernel,
			run: func(t *testing.T, h *cgroupHost, w *Watcher, clock *fakeClock) time.Time {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				w.poll()
				w.CgroupRemoved(h.rmdir(t, testCgroup, 0), testCgroup, kernelTime)
				w.poll()
				return kernelTime
			},
		},
		{
			name:    "on cgroup v1 the owner is done when the last hierarchy's directory goes",
			v1:      []string{"cpu", "memory", "pids"},
			foundBy: FoundByKernel,
			run: func(t *testing.T, h *cgroupHost, w *Watcher, clock *fakeClock) time.Time {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				for i := range 2 {
					w.CgroupRemoved(h.rmdir(t, testCgroup, i), testCgroup, kernelTime.Add(-time.Second))
				}
				w.poll()
				w.CgroupRemoved(h.rmdir(t, testCgroup, 2), testCgroup, kernelTime)
				return kernelTime
			},
		},
		{
			name:    "every directory's removal reported by its own path ends the owner without a look at the directories",
			v1:      []string{"cpu", "memory"},
			foundBy: FoundByKernel,
			run: func(t *testing.T, h *cgroupHost, w *Watcher, clock *fakeClock) time.Time {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				// The directories stay, so a look would refute the kernel.
				for i, d := range h.dirs(testCgroup) {
					id, err := cgroups.ID(d)
					if err != nil {
						t.Fatal(err)
					}
					w.CgroupRemoved(id, testCgroup, kernelTime.Add(time.Duration(i-1)*time.Second))
				}
				return kernelTime
			},
		},
		{
			name:    "a report whose path the kernel cut is confirmed by a look at the directories",
			foundBy: FoundByKernel,
			run: func(t *testing.T, h *cgroupHost, w *Watcher, clock *fakeClock) time.Time {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				id, err := cgroups.ID(h.dirs(testCgroup)[0])
				if err != nil {
					t.Fatal(err)
				}
				w.CgroupRemoved(id, "", kernelTime.Add(-time.Second))
				if n := len(w.pending); n != 1 {
					t.Fatalf("%d pending while the directory exists, want 1", n)
				}
				w.CgroupRemoved(h.rmdir(t, testCgroup, 0), "", kernelTime)
				return kernelTime
			},
		},
		{
			name:    "a report of another owner's directory with the same id, on another hierarchy, is not the owner's, and the owner's own last removal ends it",
			v1:      []string{"cpu", "memory"},
			foundBy: FoundByKernel,
			run: func(t *testing.T, h *cgroupHost, w *Watcher, clock *fakeClock) time.Time {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				cpu, err := cgroups.ID(h.dirs(testCgroup)[0])
				if err != nil {
					t.Fatal(err)
				}
				w.CgroupRemoved(cpu, "/k8s.io/other", kernelTime.Add(-2*time.Second)) // another owner's, on another hierarchy
				w.CgroupRemoved(h.rmdir(t, testCgroup, 1), testCgroup, kernelTime.Add(-time.Second))
				if n := len(w.pending); n != 1 {
					t.Fatalf("%d pending while the cpu directory exists, want 1", n)
				}
				w.CgroupRemoved(h.rmdir(t, testCgroup, 0), testCgroup, kernelTime)
				return kernelTime
			},
		},
		{
			name:    "a removal whose event was lost is found by the recheck",
			foundBy: FoundByStat,
			run: func(t *testing.T, h *cgroupHost, w *Watcher, clock *fakeClock) time.Time {
				w.ContainerChanged(container(false))
				w.ContainerChanged(container(true))
				h.rmdir(t, testCgroup, 0)
				w.poll() // not due yet
				if n := len(w.pending); n != 1 {
					t.Fatalf("%d pending before the recheck, want 1", n)
				}
				clock.Advance(testPeriod)
				w.poll()
				return time.Time{}
			},
		},
		{
			name:    "a directory removed before it was followed is found at the stop",
			foundBy: FoundByStat,
			run: func(t *testing.T, h *cgroupHost, w *Watcher, clock *fakeClock) time.Time {
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
			run: func(t *testing.T, h *cgroupHost, w *Watcher, clock *fakeClock) time.Time {
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
			clock := newFakeClock()
			w, rec := newWatcherAt(h, k, clock)
			want := tc.run(t, h, w, clock)
			// Late events and polls change nothing.
			w.CgroupRemoved(1, testCgroup, kernelTime)
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
	clock := newFakeClock()
	w, rec := newWatcherAt(h, k, clock)
	w.ContainerChanged(container(false))
	if len(k.ids) != 2 {
		t.Fatalf("kernel watches %v, want both directories", k.ids)
	}
	w.ContainerChanged(container(true))
	// The kernel cut the paths: only a look at the directories can tell.
	for id := range k.ids {
		w.CgroupRemoved(id, "", time.Now())
	}
	if n := len(rec.cgroupRemovals()); n != 0 {
		t.Fatalf("%d cgroup_removed for directories that exist", n)
	}
	clock.Advance(testPeriod + time.Nanosecond)
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

// blockingKernel is fakeKernel whose first WatchCgroup waits until release
// is closed, as a map update stuck in the kernel would.
type blockingKernel struct {
	fakeKernel
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newBlockingKernel() *blockingKernel {
	return &blockingKernel{fakeKernel: fakeKernel{ids: map[uint64]bool{}}, entered: make(chan struct{}), release: make(chan struct{})}
}

func (k *blockingKernel) WatchCgroup(id uint64) error {
	k.once.Do(func() {
		close(k.entered)
		<-k.release
	})
	return k.fakeKernel.WatchCgroup(id)
}

// waitFor fails the test when done is not closed within a deadline far
// longer than any of the calls it waits for can take unless they block.
func waitFor(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still waiting after 10s", what)
	}
}

// startBlocked starts c1 on another goroutine, whose registration with k
// blocks, and returns once it does; the returned channel is closed when
// that goroutine is done.
func startBlocked(t *testing.T, w *Watcher, k *blockingKernel) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.ContainerChanged(container(false))
	}()
	waitFor(t, k.entered, "the first registration")
	return done
}

// TestKernelCallsOutsideLock checks that a map update stuck in the kernel
// holds up only the goroutine making it: the watcher's other methods go on.
func TestKernelCallsOutsideLock(t *testing.T) {
	const other = "/k8s.io/c2"
	cases := []struct {
		name string
		call func(t *testing.T, h *cgroupHost, w *Watcher)
	}{
		{"another container's start does not wait", func(t *testing.T, h *cgroupHost, w *Watcher) {
			c := container(false)
			c.ID, c.CgroupsPath = "c2", other
			w.ContainerChanged(c)
		}},
		{"a sandbox's stop does not wait", func(t *testing.T, h *cgroupHost, w *Watcher) {
			w.SandboxChanged(cri.SandboxInfo{ID: "s1", Meta: cri.Meta{PodUID: "u1"}, CgroupsPath: other, Stopped: true})
		}},
		{"a snapshot removal does not wait", func(t *testing.T, h *cgroupHost, w *Watcher) {
			w.SnapshotRemoved("c1", "overlayfs", time.Now())
		}},
		{"the kernel's report of a removal does not wait", func(t *testing.T, h *cgroupHost, w *Watcher) {
			w.CgroupRemoved(1, testCgroup, time.Now())
		}},
		{"a poll does not wait", func(t *testing.T, h *cgroupHost, w *Watcher) {
			w.poll()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newCgroupHost(t)
			h.create(t, testCgroup)
			h.create(t, other)
			k := newBlockingKernel()
			w, _ := newTestWatcher(h, k)
			blocked := startBlocked(t, w, k)
			done := make(chan struct{})
			go func() {
				defer close(done)
				tc.call(t, h, w)
			}()
			waitFor(t, done, "the call while a registration blocks")
			close(k.release)
			waitFor(t, blocked, "the blocked registration once released")
			// Whatever the call queued was applied by the goroutine that
			// was applying: the kernel follows what the watcher follows.
			w.mu.Lock()
			defer w.mu.Unlock()
			if len(k.ids) != len(w.byID) || len(w.kernelOps) != 0 {
				t.Errorf("kernel ids %v, watcher ids %v, %d calls not made", k.ids, w.byID, len(w.kernelOps))
			}
		})
	}
}

// TestKernelCallsKeepOrder checks the race that making the kernel calls
// outside the lock opens: a cgroup's registration still on its way when the
// cgroup is found gone at the stop, which unregisters it. The unregistration
// must reach the kernel after the registration, or the id stays in the
// kernel's map for good.
func TestKernelCallsKeepOrder(t *testing.T) {
	h := newCgroupHost(t)
	h.create(t, testCgroup)
	k := newBlockingKernel()
	w, rec := newTestWatcher(h, k)
	blocked := startBlocked(t, w, k)
	h.rmdir(t, testCgroup, 0)
	w.ContainerChanged(container(true))
	close(k.release)
	waitFor(t, blocked, "the blocked registration once released")
	if len(k.ids) != 0 || len(w.byID) != 0 {
		t.Errorf("kernel ids %v, watcher ids %v; want none", k.ids, w.byID)
	}
	if n := len(rec.cgroupRemovals()); n != 1 {
		t.Errorf("%d cgroup_removed, want 1", n)
	}
}
