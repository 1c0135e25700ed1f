package release

import (
	"os"
	"slices"
	"strings"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestOnePollServesManyOwners checks that the view one poll shares among
// the waiting pods tells each pod its own releases: a pod's mounts are
// released when nothing is mounted below its directory (a neighbour whose
// name starts the same does not hold them), its netns when its file is
// gone from the listed directory.
func TestOnePollServesManyOwners(t *testing.T) {
	const owners = 12 // uids 10 and 11 start like uid 1
	cases := []struct {
		name string
		// change releases things on the node after the pods stopped.
		change func(t *testing.T, n *busyNode)
		want   string
	}{
		{
			name:   "nothing released is nothing reported",
			change: func(*testing.T, *busyNode) {},
			want:   "",
		},
		{
			name: "a pod whose mounts are gone has them reported though pods whose uids begin with its uid hold theirs",
			change: func(t *testing.T, n *busyNode) {
				n.unmount(t, n.podDir(1))
			},
			want: "mounts_released p1",
		},
		{
			name: "a pod whose netns file is gone has it reported among the listed files",
			change: func(t *testing.T, n *busyNode) {
				if err := os.Remove(n.netns(3)); err != nil {
					t.Fatal(err)
				}
			},
			want: "netns_released p3",
		},
		{
			name: "a netns directory that is gone releases every netns in it",
			change: func(t *testing.T, n *busyNode) {
				if err := os.RemoveAll(n.netnsDir); err != nil {
					t.Fatal(err)
				}
			},
			want: "netns_released p0 p1 p10 p11 p2 p3 p4 p5 p6 p7 p8 p9",
		},
		{
			name: "a mountinfo that cannot be read releases no mounts",
			change: func(t *testing.T, n *busyNode) {
				if err := os.Remove(n.mountinfo); err != nil {
					t.Fatal(err)
				}
			},
			want: "",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newBusyNode(t, owners)
			rec := &recorder{}
			w := n.watcher(t, owners, rec)
			w.poll()
			tc.change(t, n)
			w.poll()
			byKind := map[string][]string{}
			for _, e := range rec.events {
				byKind[e.Kind] = append(byKind[e.Kind], e.Pod.Name)
			}
			var got []string
			for _, kind := range []string{apiv1.KindMountsReleased, apiv1.KindNetNSReleased} {
				if pods := byKind[kind]; len(pods) > 0 {
					slices.Sort(pods)
					got = append(got, kind+" "+strings.Join(pods, " "))
				}
			}
			if g := strings.Join(got, "; "); g != tc.want {
				t.Errorf("reported %q, want %q", g, tc.want)
			}
		})
	}
}

// unmount takes every mount at or below dir out of the node's mountinfo.
func (n *busyNode) unmount(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(n.mountinfo)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.Contains(line, " "+dir+"/") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(n.mountinfo, []byte(strings.Join(kept, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}
