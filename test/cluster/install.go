package cluster

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/graceline/graceline/test/harness"
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

// RenderGraceline renders the kustomization GracelineOverlay writes, on
// top of root's deploy/kustomize, as `kubectl apply -k` would: the tree is
// copied into an in-memory filesystem beside the overlay, so nothing is
// written to the disk. It returns the objects in kustomize's order (the
// order apply creates them in) and the overlay.
func (c *Cluster) RenderGraceline(root string) ([]*unstructured.Unstructured, string, error) {
	mem := filesys.MakeFsInMemory()
	src := filepath.Join(root, "deploy", "kustomize")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+filepath.ToSlash(rel), b)
	})
	if err != nil {
		return nil, "", fmt.Errorf("copy the kustomize tree: %w", err)
	}
	overlay := c.GracelineOverlay("../deploy/kustomize/overlays/containerd")
	if err := mem.WriteFile("/testbed/kustomization.yaml", []byte(overlay)); err != nil {
		return nil, "", err
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/testbed")
	if err != nil {
		return nil, overlay, fmt.Errorf("kustomize build: %w", err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range m.Resources() {
		o, err := r.Map()
		if err != nil {
			return nil, overlay, fmt.Errorf("kustomize build: %s: %w", r.CurId(), err)
		}
		objs = append(objs, &unstructured.Unstructured{Object: o})
	}
	return objs, overlay, nil
}

// BuildGracelineImages builds the agent's and the collector's images as
// `make images` does (hack/images: an OCI layout tarball per image, an
// index for linux/amd64 and linux/arm64, named as the manifests name them),
// into dir, and returns the tarballs.
func BuildGracelineImages(ctx context.Context, root, dir string) ([]string, error) {
	chart, err := os.ReadFile(filepath.Join(root, "deploy", "helm", "graceline", "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read the chart's appVersion: %w", err)
	}
	m := regexp.MustCompile(`(?m)^appVersion: *"?([^"\s]+)"?\s*$`).FindSubmatch(chart)
	if m == nil {
		return nil, fmt.Errorf("read the chart's appVersion: none in Chart.yaml")
	}
	// The images are labelled with the commit and stamped with its time,
	// as make images does; outside a git checkout, with placeholders.
	revision, epoch := "unknown", "0"
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output(); err == nil {
		revision = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "log", "-1", "--format=%ct").Output(); err == nil {
		epoch = strings.TrimSpace(string(out))
	}
	cmd := exec.CommandContext(ctx, "go", "run", "./hack/images", "build", "--out", dir, "--version", string(m[1]),
		"--revision", revision, "--source-date-epoch", epoch)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build graceline's images: %w: %s", err, out)
	}
	return []string{filepath.Join(dir, "graceline-agent.tar"), filepath.Join(dir, "graceline-collector.tar")}, nil
}

// ImportImages imports image tarballs into the node's containerd, in the
// k8s.io namespace the kubelet's pods use, under the names their index
// gives them: a pod that names one with imagePullPolicy IfNotPresent runs
// it without a registry.
func (c *Cluster) ImportImages(ctx context.Context, tarballs ...string) error {
	return harness.ImportImages(ctx, c.Containerd.Address, tarballs...)
}
