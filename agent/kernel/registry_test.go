package kernel

import (
	"log/slog"
	"os"
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
