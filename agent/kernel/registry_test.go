package kernel

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/cri"
)

// The kernel reuses a freed mount namespace's inode number: events after a
// container stopped must not resolve to it, and the new owner of the inode
// must not inherit the old one's end.
func TestRegistryNamespaceReuse(t *testing.T) {
	pid := int32(os.Getpid())
	ns, err := probe.MountNamespace(int(pid))
	if err != nil {
		t.Skipf("cannot read this process's mount namespace: %v", err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := t0
	r := newRegistry(time.Minute, slog.New(slog.DiscardHandler))
	r.now = func() time.Time { return clock }
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	r.ContainerChanged(cri.ContainerInfo{ID: "old", Pid: pid})
	clock = at(10)
	r.ContainerChanged(cri.ContainerInfo{ID: "old", Pid: pid, Stopped: true})
	steps := []struct {
		name   string
		change *cri.ContainerInfo
		at     time.Time
		want   string // "" for no container
	}{
		{name: "an event before the stop is the old container's", at: at(9), want: "old"},
		{name: "an event after the stop belongs to nobody yet", at: at(11), want: ""},
		{name: "a new container on the same inode takes it", change: &cri.ContainerInfo{ID: "new", Pid: pid}, at: at(12), want: "new"},
		{name: "the old container's removal leaves the new one alone", change: &cri.ContainerInfo{ID: "old", Pid: pid, Removed: true}, at: at(13), want: "new"},
	}
	for _, s := range steps {
		if s.change != nil {
			r.ContainerChanged(*s.change)
		}
		ref, ok := r.lookup(ns, s.at)
		got := ""
		if ok {
			got = ref.id
		}
		if got != s.want {
			t.Errorf("%s: lookup gives %q, want %q", s.name, got, s.want)
		}
	}
	if ref, _ := r.lookup(ns, at(14)); ref == nil || !ref.removed.IsZero() || !ref.stopped.IsZero() {
		t.Errorf("the new container was marked ended: %+v", ref)
	}
}

// An event of a namespace not yet known is held, and retried when a
// container is learned. If the kernel gave the inode of an unknown,
// finished namespace to a new container meanwhile, the held events of the
// former owner must not become the new one's: nothing in a namespace
// happens before its init starts.
func TestRegistryHeldEventsOfAFormerOwner(t *testing.T) {
	pid := int32(os.Getpid())
	ns, err := probe.MountNamespace(int(pid))
	if err != nil {
		t.Skipf("cannot read this process's mount namespace: %v", err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	r := newRegistry(time.Minute, slog.New(slog.DiscardHandler))
	r.started = func(int) (time.Time, error) { return at(1000), nil }
	r.SandboxChanged(cri.SandboxInfo{ID: "new", Pid: pid, Meta: cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u"}})
	tests := []struct {
		name string
		at   time.Time
		want string // "" for no container
	}{
		{name: "A former owner's SIGKILL, before the new init started, belongs to nobody.", at: at(511), want: ""},
		{name: "An event at the new init's start is the new owner's.", at: at(1000), want: "new"},
		{name: "An event after it is the new owner's.", at: at(1500), want: "new"},
	}
	for _, tt := range tests {
		ref, ok := r.lookup(ns, tt.at)
		got := ""
		if ok {
			got = ref.id
		}
		if got != tt.want {
			t.Errorf("%s: lookup gives %q, want %q", tt.name, got, tt.want)
		}
	}
}

// A container whose init is gone before its start could be read is not
// learned: it would take events of the inode's former owner.
func TestRegistryUnknownStart(t *testing.T) {
	pid := int32(os.Getpid())
	ns, err := probe.MountNamespace(int(pid))
	if err != nil {
		t.Skipf("cannot read this process's mount namespace: %v", err)
	}
	r := newRegistry(time.Minute, slog.New(slog.DiscardHandler))
	r.started = func(int) (time.Time, error) { return time.Time{}, os.ErrNotExist }
	r.ContainerChanged(cri.ContainerInfo{ID: "c", Pid: pid})
	if ref, ok := r.lookup(ns, time.Now()); ok {
		t.Errorf("lookup = %+v; want no container", ref)
	}
}

// A sandbox's processes (pause) are the pod's, with no container.
func TestRegistrySandbox(t *testing.T) {
	pid := int32(os.Getpid())
	ns, err := probe.MountNamespace(int(pid))
	if err != nil {
		t.Skipf("cannot read this process's mount namespace: %v", err)
	}
	r := newRegistry(time.Minute, slog.New(slog.DiscardHandler))
	meta := cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u1"}
	r.SandboxChanged(cri.SandboxInfo{ID: "sb", Pid: pid, Meta: meta})
	ref, ok := r.lookup(ns, time.Now())
	if !ok || !ref.sandbox || ref.pod.GetUid() != "u1" {
		t.Fatalf("lookup = %+v, %v; want the sandbox of pod u1", ref, ok)
	}
	if p := r.sandboxPod("sb"); p.GetUid() != "u1" {
		t.Errorf("sandboxPod = %v, want pod u1", p)
	}
	r.SandboxChanged(cri.SandboxInfo{ID: "sb", Pid: pid, Meta: meta, Stopped: true})
	if _, ok := r.lookup(ns, time.Now().Add(time.Second)); ok {
		t.Errorf("an event after the sandbox stopped is still attributed to it")
	}
}

// filterLog records what the registry and the windows tell the kernel's
// filter.
type filterLog []string

func (f *filterLog) SetInit(tgid uint32, init bool) error {
	*f = append(*f, fmt.Sprintf("init %d %v", tgid, init))
	return nil
}

func (f *filterLog) SetWindow(mntns uint32, open bool) error {
	*f = append(*f, fmt.Sprintf("window %d %v", mntns, open))
	return nil
}

func (f *filterLog) ForgetNamespace(mntns uint32) error {
	*f = append(*f, fmt.Sprintf("forget %d", mntns))
	return nil
}

// TestKernelFilterFollowsTheRuntime: a container's init is named to the
// kernel when it is first seen running and forgotten when it stops; the
// policy's windows reach the container's namespace, or every namespace of
// the pod; a removed container's namespace is forgotten once pruned.
func TestKernelFilterFollowsTheRuntime(t *testing.T) {
	pid := int32(os.Getpid())
	ns, err := probe.MountNamespace(int(pid))
	if err != nil {
		t.Skipf("cannot read this process's mount namespace: %v", err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var f filterLog
	r := newRegistry(time.Minute, slog.New(slog.DiscardHandler))
	r.now, r.filter = func() time.Time { return clock }, &f
	w := windows{reg: r, filter: &f}
	meta := cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u"}
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"A container seen running names its init.", func() { r.ContainerChanged(cri.ContainerInfo{ID: "c", Meta: meta, Pid: pid}) }, []string{fmt.Sprintf("init %d true", pid)}},
		{"Seeing it again changes nothing.", func() { r.ContainerChanged(cri.ContainerInfo{ID: "c", Meta: meta, Pid: pid}) }, nil},
		{"The policy's window reaches the container's namespace.", func() { w.Open("u", "c") }, []string{fmt.Sprintf("window %d true", ns)}},
		{"The pod's window reaches every namespace of the pod.", func() { w.Close("u", "") }, []string{fmt.Sprintf("window %d false", ns)}},
		{"Another pod's window reaches none.", func() { w.Open("other", "") }, nil},
		{"The container's stop forgets its init.", func() { r.ContainerChanged(cri.ContainerInfo{ID: "c", Meta: meta, Pid: pid, Stopped: true}) }, []string{fmt.Sprintf("init %d false", pid)}},
		{"Its removal, once pruned, forgets its namespace.", func() {
			r.ContainerChanged(cri.ContainerInfo{ID: "c", Meta: meta, Pid: pid, Removed: true})
			f = nil
			clock = clock.Add(2 * time.Minute)
			r.prune()
		}, []string{fmt.Sprintf("forget %d", ns)}},
	}
	for _, s := range steps {
		f = nil
		s.do()
		if !slices.Equal(f, s.want) {
			t.Errorf("%s: the kernel was told %q, want %q", s.name, f, s.want)
		}
	}
}
