package release

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graceline/graceline/cri"
)

// busyNode lays out a node on which owners pods have stopped and wait for
// their release: each has a network namespace file and two volume mounts
// in the mountinfo, among a host's own mounts.
type busyNode struct {
	kubeletRoot, netnsDir, mountinfo string
}

func newBusyNode(tb testing.TB, owners int) *busyNode {
	tb.Helper()
	root := tb.TempDir()
	n := &busyNode{kubeletRoot: filepath.Join(root, "kubelet"), netnsDir: filepath.Join(root, "netns"), mountinfo: filepath.Join(root, "mountinfo")}
	if err := os.MkdirAll(n.netnsDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	var mi strings.Builder
	for i := range 40 {
		fmt.Fprintf(&mi, "%d 1 0:%d / /host/mount/%d rw,relatime shared:%d - ext4 /dev/sda1 rw\n", 100+i, i, i, i)
	}
	for i := range owners {
		if err := os.WriteFile(n.netns(i), nil, 0o644); err != nil {
			tb.Fatal(err)
		}
		for _, vol := range []string{"kubernetes.io~projected/kube-api-access", "kubernetes.io~empty-dir/data"} {
			fmt.Fprintf(&mi, "%d 30 0:%d / %s rw,relatime shared:%d - tmpfs tmpfs rw\n", 1000+i, 200+i, filepath.Join(n.podDir(i), "volumes", vol), 500+i)
		}
	}
	if err := os.WriteFile(n.mountinfo, []byte(mi.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return n
}

func (n *busyNode) uid(i int) string    { return fmt.Sprintf("0000-uid-%d", i) }
func (n *busyNode) netns(i int) string  { return filepath.Join(n.netnsDir, fmt.Sprintf("cni-%04d", i)) }
func (n *busyNode) podDir(i int) string { return filepath.Join(n.kubeletRoot, "pods", n.uid(i)) }

// watcher returns a watcher of the node's stopped sandboxes, none of
// which has released anything yet.
func (n *busyNode) watcher(tb testing.TB, owners int, rec *recorder) *Watcher {
	tb.Helper()
	clock := newFakeClock()
	w := New("node", rec.emit, Config{Period: testPeriod, Recheck: testPeriod, GiveUp: time.Hour, KubeletRoot: n.kubeletRoot, MountInfo: n.mountinfo, Now: clock.Now})
	for i := range owners {
		w.SandboxChanged(cri.SandboxInfo{ID: fmt.Sprintf("s%d", i), Meta: cri.Meta{PodNamespace: "default", PodName: fmt.Sprintf("p%d", i), PodUID: n.uid(i)}, NetNS: n.netns(i), Stopped: true})
	}
	return w
}

// BenchmarkPollWaitingOwners measures one poll tick while 100 stopped pods
// wait for their network namespaces and volume mounts to be released: the
// cost the watcher adds to a node in the middle of a mass deletion, every
// --release-poll-period.
func BenchmarkPollWaitingOwners(b *testing.B) {
	const owners = 100
	n := newBusyNode(b, owners)
	rec := &recorder{}
	w := n.watcher(b, owners, rec)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w.poll()
	}
	b.StopTimer()
	if len(rec.events) != 0 || len(w.pending) != 2*owners {
		b.Fatalf("%d events and %d pending, want none released and all %d pending", len(rec.events), len(w.pending), 2*owners)
	}
}
