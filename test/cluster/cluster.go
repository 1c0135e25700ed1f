// Package cluster runs a real single-node Kubernetes for graceline's tests:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and a
// kubelet on a private containerd 2.x with a CNI bridge network, all on
// loopback in a temporary directory. The Kubernetes binaries come from
// hack/build-k8s.sh, etcd from Debian.
package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/graceline/graceline/test/cluster/iptables"
	"github.com/graceline/graceline/test/harness"
)

// Options configure Start.
type Options struct {
	// Images are image-layout tarballs (harness.BuildImages) to import into
	// the node's containerd; pods use them with imagePullPolicy Never.
	Images []string
	// NodeName is the node's name; "graceline-node" when empty.
	NodeName string
	// Log receives progress; slog.Default() when nil.
	Log *slog.Logger
	// KeepLogs, when set, is a directory that Close copies the components'
	// logs into before it removes the cluster's directory.
	KeepLogs string
	// NoServices leaves out kube-proxy and the cluster DNS: Services then
	// get a ClusterIP that nothing routes and a name that nothing resolves.
	// Only one cluster on a host may run kube-proxy, whose chains have
	// fixed names; a second cluster beside it must set this.
	NoServices bool
}

// Cluster is a running single-node cluster.
type Cluster struct {
	// Dir holds every file of the cluster but the containerd's.
	Dir string
	// NodeName is the only node's name.
	NodeName string
	// Kubeconfig is an admin kubeconfig (system:masters).
	Kubeconfig string
	// Containerd is the node's private runtime, which only the kubelet
	// drives; graceline-agent watches its socket.
	Containerd *harness.Containerd
	// StartupTime is how long Start took.
	StartupTime time.Duration

	log        *slog.Logger
	keepLogs   string
	services   bool // kube-proxy and the cluster DNS run
	id         string
	net        network
	cgroupRoot string
	sysctls    map[string]string
	iptables   iptables.Snapshot // the host's rules before the node started
	nfacct     []string          // the host's netfilter accounting objects then
	nfacctRead bool              // whether nfacct could read them
	procs      []*process        // in start order; stopped in reverse
	kubelet    *process
	kubeletDir string
	ctdDir     string   // the containerd's directory, checked after it is gone
	hostPaths  []string // fixed host directories this cluster created
}

// Start runs a cluster with the binaries hack/build-k8s.sh built, and
// returns once the node is Ready and the default namespace's ServiceAccount
// exists. On error it tears down everything it started.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	began := time.Now()
	bins, err := binaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{NodeName: opts.NodeName, log: opts.Log, keepLogs: opts.KeepLogs, services: !opts.NoServices}
	if c.NodeName == "" {
		c.NodeName = "graceline-node"
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if err := c.start(ctx, bins, opts.Images, began); err != nil {
		c.log.Error("cluster start failed; tearing down", "err", err)
		c.Close()
		return nil, err
	}
	c.StartupTime = time.Since(began)
	c.log.Info("cluster ready", "startup", c.StartupTime.Round(time.Millisecond), "kubeconfig", c.Kubeconfig)
	return c, nil
}

// start brings every part up in order and waits until the node is ready.
func (c *Cluster) start(ctx context.Context, bins k8sBinaries, images []string, began time.Time) error {
	p, err := c.prepare()
	if err != nil {
		return err
	}
	creds, err := newCredentials(c.Dir, c.NodeName)
	if err != nil {
		return err
	}
	if err := c.startControlPlane(ctx, bins, p, creds, began); err != nil {
		return err
	}
	if err := c.startNode(ctx, bins, p, creds, images, began); err != nil {
		return err
	}
	cs, err := c.Client()
	if err != nil {
		return err
	}
	if err := waitNodeReady(ctx, c.kubelet, cs, c.NodeName); err != nil {
		return err
	}
	if c.services {
		if err := c.startServiceProxy(ctx, bins, p, creds, began); err != nil {
			return err
		}
	}
	if err := WaitServiceAccount(ctx, cs, "default"); err != nil {
		return err
	}
	for _, p := range c.procs {
		if err := p.running(); err != nil {
			return err
		}
	}
	return nil
}

// LogPath is the log file of a component: "etcd", "kube-apiserver",
// "kube-controller-manager", "kube-scheduler" or "kubelet".
func (c *Cluster) LogPath(component string) string { return filepath.Join(c.Dir, component+".log") }

// PodLogsDir is where the kubelet keeps containers' logs
// (<namespace>_<name>_<uid>/<container>/<restart>.log, in CRI log format).
func (c *Cluster) PodLogsDir() string { return filepath.Join(c.Dir, "pod-logs") }

// KubeletRootDir is the kubelet's --root-dir (pods' volumes are below it).
func (c *Cluster) KubeletRootDir() string { return c.kubeletDir }

// PodSubnet is the CNI bridge network's address range.
func (c *Cluster) PodSubnet() string { return c.net.subnet }

// NodeAddress is the node's InternalIP: the bridge's own address, where the
// API server, the kubelet and the cluster DNS listen.
func (c *Cluster) NodeAddress() string { return c.net.gateway }

// Services reports whether kube-proxy and the cluster DNS run: a Service's
// ClusterIP routes and its name resolves in pods.
func (c *Cluster) Services() bool { return c.services }

// Client returns a clientset with the admin's credentials.
func (c *Cluster) Client() (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create clientset: %w", err)
	}
	return cs, nil
}

// Logs returns the tail of each component's log, for a failed test.
func (c *Cluster) Logs(n int) string {
	var s string
	for _, p := range append(c.procs, c.kubelet) {
		if p != nil {
			s += fmt.Sprintf("----- %s (%s) -----\n%s\n", p.name, p.log, p.tail(n))
		}
	}
	return s
}
