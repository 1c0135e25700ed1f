package cgroups

import "testing"

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
