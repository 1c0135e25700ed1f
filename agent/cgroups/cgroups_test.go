package cgroups

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRelative(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/k8s.io/abc", "k8s.io/abc"},
		{"/kubepods/besteffort/pod1/abc", "kubepods/besteffort/pod1/abc"},
		{"kubepods-besteffort-pod1.slice:cri-containerd:abc", "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope"},
		{"system.slice:cri-containerd:abc", "system.slice/cri-containerd-abc.scope"},
		{"", ""},
	}
	for _, tc := range cases {
		if got := relative(tc.in); got != tc.want {
			t.Errorf("relative(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFrozen(t *testing.T) {
	const path = "/k8s.io/abc"
	cases := []struct {
		name  string
		files map[string]string // below the root
		want  bool
	}{
		{"A v1 freezer that froze the cgroup says so.", map[string]string{"freezer/k8s.io/abc/freezer.state": "FROZEN\n"}, true},
		{"A v1 freezer still freezing counts as frozen.", map[string]string{"freezer/k8s.io/abc/freezer.state": "FREEZING\n"}, true},
		{"A thawed v1 freezer is not frozen.", map[string]string{"freezer/k8s.io/abc/freezer.state": "THAWED\n"}, false},
		{"A hybrid host's unified hierarchy can freeze the cgroup.", map[string]string{"freezer/k8s.io/abc/freezer.state": "THAWED\n", "unified/k8s.io/abc/cgroup.freeze": "1\n"}, true},
		{"A pure v2 host freezes through cgroup.freeze.", map[string]string{"k8s.io/abc/cgroup.freeze": "1\n"}, true},
		{"A pure v2 cgroup that is not frozen says 0.", map[string]string{"k8s.io/abc/cgroup.freeze": "0\n"}, false},
		{"Another hierarchy's file is not the freezer's.", map[string]string{"cpu/k8s.io/abc/freezer.state": "FROZEN\n"}, false},
		{"A cgroup that is gone is not frozen.", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := Frozen(root, path); got != tc.want {
				t.Errorf("Frozen = %v, want %v", got, tc.want)
			}
		})
	}
}
