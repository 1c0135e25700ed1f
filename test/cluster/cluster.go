// Package cluster runs a real single-node Kubernetes for graceline's tests:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and a
// kubelet on a private containerd 2.x with a CNI bridge network, all on
// loopback in a temporary directory. The Kubernetes binaries come from
// hack/build-k8s.sh, etcd from Debian.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

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
	id         string
	net        network
	cgroupRoot string
	sysctls    map[string]string
	procs      []*process // in start order; stopped in reverse
	kubelet    *process
	kubeletDir string
	ctdDir     string   // the containerd's directory, checked after it is gone
	hostPaths  []string // fixed host directories this cluster created
}

// Start builds nothing: it runs the binaries hack/build-k8s.sh built. It
// returns once the node is Ready and the default namespace's ServiceAccount
// exists. On error everything started so far is torn down.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	began := time.Now()
	bins, err := binaries()
	if err != nil {
		return nil, err
	}
	c = &Cluster{NodeName: opts.NodeName, log: opts.Log, keepLogs: opts.KeepLogs}
	if c.NodeName == "" {
		c.NodeName = "graceline-node"
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	defer func() {
		if err != nil {
			c.log.Error("cluster start failed; tearing down", "err", err)
			c.Close()
			c = nil
		}
	}()
	id := make([]byte, 3)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("read random id: %w", err)
	}
	c.id = hex.EncodeToString(id)
	c.hostPaths = absentHostPaths()
	// A short path: the kubelet's and containerd's unix sockets live below it.
	if c.Dir, err = os.MkdirTemp("", "gl-k8s-"); err != nil {
		return nil, fmt.Errorf("create cluster dir: %w", err)
	}
	// Names no other cluster on the host uses, so that two (a test run and
	// a by-hand cluster) can run side by side and be removed apart.
	c.net = network{name: "graceline-" + c.id, bridge: "glk8s" + c.id, subnet: fmt.Sprintf("10.238.%d.0/24", id[0]), ipamDir: filepath.Join(c.Dir, "cni-ipam")}
	c.cgroupRoot = "/graceline-" + c.id
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	etcdPort, peerPort, apiPort, kcmPort, schedPort, kubeletPort, healthzPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6]
	c.log.Info("starting cluster", "dir", c.Dir, "node", c.NodeName, "bridge", c.net.bridge, "subnet", c.net.subnet)

	creds, err := newCredentials(c.Dir, c.NodeName)
	if err != nil {
		return nil, err
	}
	etcd, etcdURL, err := startEtcd(c.Dir, etcdPort, peerPort)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, etcd)
	if err := waitEtcd(ctx, etcd, etcdURL); err != nil {
		return nil, err
	}
	c.log.Info("etcd ready", "elapsed", time.Since(began).Round(time.Millisecond))

	api, err := startProcess(c.Dir, "kube-apiserver", bins.apiserver, apiServerArgs(c.Dir, etcdURL, apiPort, creds)...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, api)
	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	c.Kubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
	nodeKubeconfig := filepath.Join(c.Dir, "kubelet.kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, server, apiServerCA(c.Dir), "admin", creds.adminToken); err != nil {
		return nil, err
	}
	if err := writeKubeconfig(nodeKubeconfig, server, apiServerCA(c.Dir), "system:node:"+c.NodeName, creds.nodeToken); err != nil {
		return nil, err
	}
	if err := waitAPIServer(ctx, api, c.Dir, c.Client); err != nil {
		return nil, err
	}
	c.log.Info("kube-apiserver ready", "server", server, "elapsed", time.Since(began).Round(time.Millisecond))

	kcm, err := startProcess(c.Dir, "kube-controller-manager", bins.controllerManager, controllerManagerArgs(c.Dir, c.Kubeconfig, kcmPort, creds)...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, kcm)
	sched, err := startProcess(c.Dir, "kube-scheduler", bins.scheduler, schedulerArgs(c.Kubeconfig, schedPort)...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, sched)

	conflist, err := c.net.confList()
	if err != nil {
		return nil, err
	}
	if c.Containerd, err = harness.StartContainerdWith(ctx, harness.Containerd2, []harness.Option{harness.WithCNIConfList(conflist)}, opts.Images...); err != nil {
		return nil, fmt.Errorf("start node containerd: %w", err)
	}
	c.ctdDir = c.Containerd.Dir
	c.log.Info("node containerd ready", "address", c.Containerd.Address, "elapsed", time.Since(began).Round(time.Millisecond))

	if c.sysctls, err = saveSysctls(); err != nil {
		return nil, err
	}
	if err := makeCgroupRoot(c.cgroupRoot); err != nil {
		return nil, err
	}
	k := kubelet{dir: c.Dir, bin: bins.kubelet, node: c.NodeName, runtime: c.Containerd.Endpoint(), cgroupRoot: c.cgroupRoot,
		kubeconfig: nodeKubeconfig, port: kubeletPort, healthzPort: healthzPort}
	c.kubeletDir = k.rootDir()
	if c.kubelet, err = k.start(); err != nil {
		return nil, err
	}
	cs, err := c.Client()
	if err != nil {
		return nil, err
	}
	if err := waitNodeReady(ctx, c.kubelet, cs, c.NodeName); err != nil {
		return nil, err
	}
	if err := WaitServiceAccount(ctx, cs, "default"); err != nil {
		return nil, err
	}
	for _, p := range c.procs {
		if err := p.running(); err != nil {
			return nil, err
		}
	}
	c.StartupTime = time.Since(began)
	c.log.Info("cluster ready", "startup", c.StartupTime.Round(time.Millisecond), "kubeconfig", c.Kubeconfig)
	return c, nil
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
