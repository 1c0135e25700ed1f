package cluster

import (
	"fmt"
	"path/filepath"
	"strings"
)

// RuntimeDir is the node's containerd directory: its socket, its state and
// the CNI plugins it runs. It is a shared mount, like a node's /run.
func (c *Cluster) RuntimeDir() string { return c.ctdDir }

// NetNSDir is where the node's containerd mounts pods' network namespaces
// (netns_mounts_under_state_dir; a default containerd uses /var/run/netns).
func (c *Cluster) NetNSDir() string {
	return filepath.Join(c.ctdDir, "state", "io.containerd.grpc.v1.cri", "netns")
}

// CNIBinDirs are the directories the node's CNI plugins run from: the
// runtime's bin_dir, whose entries are links into Debian's plugins, and
// those.
func (c *Cluster) CNIBinDirs() []string {
	return []string{c.Containerd.CNIBinDir(), "/usr/lib/cni"}
}

// GracelineOverlay is the kustomization that installs graceline on this
// node from base, the path of deploy/kustomize/overlays/containerd relative
// to where the kustomization is written. It holds what a user of a node laid
// out like this one changes, and nothing else: the runtime's directory and
// socket, the network namespaces' directory, the kubelet's root, and the
// CNI bin directories (the runtime's and Debian's, in place of the
// defaults). Each is a JSON patch guarded by tests of what it replaces, so
// that a reordered base fails the build instead of patching the wrong item.
// The images keep the manifests' names: they are imported under them.
func (c *Cluster) GracelineOverlay(base string) string {
	ctd, netns, kubelet := c.RuntimeDir(), c.NetNSDir(), c.KubeletRootDir()
	cni := c.CNIBinDirs()
	var ops []string
	op := func(kind, path, value string) {
		ops = append(ops, fmt.Sprintf("      - op: %s\n        path: %s\n        value: %s", kind, path, value))
	}
	arg := func(i int, was, now string) {
		p := fmt.Sprintf("/spec/template/spec/containers/0/args/%d", i)
		op("test", p, was)
		op("replace", p, now)
	}
	// mount points volume i and its mount j at path, on the host and in the
	// agent alike: the agent reads the paths the runtime and the kubelet
	// report.
	mount := func(i, j int, name, path string) {
		op("test", fmt.Sprintf("/spec/template/spec/volumes/%d/name", i), name)
		op("replace", fmt.Sprintf("/spec/template/spec/volumes/%d/hostPath/path", i), path)
		op("test", fmt.Sprintf("/spec/template/spec/containers/0/volumeMounts/%d/name", j), name)
		op("replace", fmt.Sprintf("/spec/template/spec/containers/0/volumeMounts/%d/mountPath", j), path)
	}
	op("test", "/spec/template/spec/containers/0/name", "agent")
	arg(0, "--cri-endpoint=unix:///run/containerd/containerd.sock", "--cri-endpoint=unix://"+filepath.Join(ctd, "containerd.sock"))
	mount(0, 0, "runtime", ctd)
	mount(1, 1, "netns", netns)
	arg(5, "--kubelet-root=/var/lib/kubelet", "--kubelet-root="+kubelet)
	mount(3, 3, "kubelet", kubelet)
	arg(7, "--cni-bin-dir=/opt/cni/bin,/usr/libexec/cni,/usr/lib/cni", "--cni-bin-dir="+strings.Join(cni, ","))
	mount(6, 6, "cni-bin-0", cni[0])
	mount(7, 7, "cni-bin-1", cni[1])
	// The base's third CNI directory goes: a hostPath the node lacks would
	// be created on it.
	op("test", "/spec/template/spec/volumes/8/name", "cni-bin-2")
	ops = append(ops, "      - op: remove\n        path: /spec/template/spec/volumes/8")
	op("test", "/spec/template/spec/containers/0/volumeMounts/8/name", "cni-bin-2")
	ops = append(ops, "      - op: remove\n        path: /spec/template/spec/containers/0/volumeMounts/8")
	return fmt.Sprintf(`# graceline on the test bed's node: the containerd overlay, with the
# node's own paths.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - %s
patches:
  - target:
      group: apps
      version: v1
      kind: DaemonSet
      name: graceline-agent
    patch: |-
%s
`, base, strings.Join(ops, "\n"))
}
