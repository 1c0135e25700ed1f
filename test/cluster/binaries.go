package cluster

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/graceline/graceline/test/harness"
)

// k8sBinaries are the paths of the Kubernetes binaries, and of CoreDNS.
type k8sBinaries struct {
	apiserver, controllerManager, scheduler, kubelet, proxy, coredns string
}

// binaries finds the Kubernetes binaries hack/build-k8s.sh put in
// _output/k8s/bin, CoreDNS, which hack/install-deps.sh put in _output/bin,
// and etcd.
func binaries() (k8sBinaries, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return k8sBinaries{}, fmt.Errorf("find repository root: %w", err)
	}
	dir := filepath.Join(root, "_output", "k8s", "bin")
	b := k8sBinaries{
		apiserver:         filepath.Join(dir, "kube-apiserver"),
		controllerManager: filepath.Join(dir, "kube-controller-manager"),
		scheduler:         filepath.Join(dir, "kube-scheduler"),
		kubelet:           filepath.Join(dir, "kubelet"),
		proxy:             filepath.Join(dir, "kube-proxy"),
		coredns:           filepath.Join(root, "_output", "bin", "coredns"),
	}
	for _, p := range []string{b.apiserver, b.controllerManager, b.scheduler, b.kubelet, b.proxy, b.coredns, etcdBin} {
		if _, err := os.Stat(p); err != nil {
			return k8sBinaries{}, fmt.Errorf("%s missing (run hack/build-k8s.sh and hack/install-deps.sh): %w", p, err)
		}
	}
	return b, nil
}
