package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/graceline/graceline/test/cluster/iptables"
	"github.com/graceline/graceline/test/harness"
)

// ports are one cluster's ports, picked free on loopback; the API server,
// the kubelet's API and the cluster DNS use theirs on the node's address.
type ports struct {
	etcd, etcdPeer, apiServer, controllerManager, scheduler, kubelet, kubeletHealthz int
	proxyHealthz, proxyMetrics, dnsReady                                             int
}

// prepare makes the cluster's directory and picks the names and ports that
// set it apart from any other cluster on the host (a test run and a
// by-hand cluster can run side by side and be removed apart).
func (c *Cluster) prepare() (ports, error) {
	id := make([]byte, 3)
	if _, err := rand.Read(id); err != nil {
		return ports{}, fmt.Errorf("read random id: %w", err)
	}
	c.id = hex.EncodeToString(id)
	c.hostPaths = absentHostPaths()
	var err error
	// A short path: the kubelet's and containerd's unix sockets live below it.
	if c.Dir, err = os.MkdirTemp("", "gl-k8s-"); err != nil {
		return ports{}, fmt.Errorf("create cluster dir: %w", err)
	}
	c.net = network{name: "graceline-" + c.id, bridge: "glk8s" + c.id, subnet: fmt.Sprintf("10.238.%d.0/24", id[0]),
		gateway: fmt.Sprintf("10.238.%d.1", id[0]), ipamDir: filepath.Join(c.Dir, "cni-ipam")}
	c.cgroupRoot = "/graceline-" + c.id
	c.Kubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
	if c.services {
		// Two kube-proxies on one host would each rewrite the other's
		// chains: Services would route now to one cluster, now to the other.
		if pid, cmdline := otherKubeProxy(); pid != 0 {
			return ports{}, fmt.Errorf("another kube-proxy runs on this host (pid %d: %s): stop its cluster first (make cluster-down), or start this one with NoServices", pid, cmdline)
		}
	}
	free, err := freePorts(10)
	if err != nil {
		return ports{}, err
	}
	c.log.Info("starting cluster", "dir", c.Dir, "node", c.NodeName, "address", c.net.gateway, "bridge", c.net.bridge, "subnet", c.net.subnet, "services", c.services)
	// First of all: the API server and the kubelet listen on its address.
	if err := c.net.createBridge(); err != nil {
		return ports{}, err
	}
	return ports{free[0], free[1], free[2], free[3], free[4], free[5], free[6], free[7], free[8], free[9]}, nil
}

// startControlPlane starts etcd and the API server and waits for each, then
// starts the controller manager and the scheduler.
func (c *Cluster) startControlPlane(ctx context.Context, bins k8sBinaries, p ports, creds *credentials, began time.Time) error {
	etcd, etcdURL, err := startEtcd(c.Dir, p.etcd, p.etcdPeer)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, etcd)
	if err := waitEtcd(ctx, etcd, etcdURL); err != nil {
		return err
	}
	c.log.Info("etcd ready", "elapsed", time.Since(began).Round(time.Millisecond))

	api, err := startProcess(c.Dir, "kube-apiserver", bins.apiserver, apiServerArgs(c.Dir, etcdURL, c.net.gateway, p.apiServer, creds)...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, api)
	server := c.server(p)
	if err := writeKubeconfig(c.Kubeconfig, server, apiServerCA(c.Dir), "admin", creds.adminToken); err != nil {
		return err
	}
	if err := writeKubeconfig(c.nodeKubeconfig(), server, apiServerCA(c.Dir), "system:node:"+c.NodeName, creds.nodeToken); err != nil {
		return err
	}
	if err := waitAPIServer(ctx, api, c.Dir, c.Client); err != nil {
		return err
	}
	c.log.Info("kube-apiserver ready", "server", server, "elapsed", time.Since(began).Round(time.Millisecond))

	kcm, err := startProcess(c.Dir, "kube-controller-manager", bins.controllerManager, controllerManagerArgs(c.Dir, c.Kubeconfig, p.controllerManager, creds)...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, kcm)
	sched, err := startProcess(c.Dir, "kube-scheduler", bins.scheduler, schedulerArgs(c.Kubeconfig, p.scheduler)...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, sched)
	return nil
}

// server is the API server's URL, on the node's address.
func (c *Cluster) server(p ports) string {
	return "https://" + net.JoinHostPort(c.net.gateway, strconv.Itoa(p.apiServer))
}

// nodeKubeconfig is the kubelet's kubeconfig, with the node's token.
func (c *Cluster) nodeKubeconfig() string { return filepath.Join(c.Dir, "kubelet.kubeconfig") }

// startNode starts the cluster DNS, where there is one, and the node's
// private containerd with the CNI network and the images, then the kubelet
// on it. The host's iptables rules are read first, the kernel settings the
// kubelet rewrites saved, and its cgroup root made.
func (c *Cluster) startNode(ctx context.Context, bins k8sBinaries, p ports, creds *credentials, images []string, began time.Time) error {
	conflist, err := c.net.confList()
	if err != nil {
		return err
	}
	// Before the runtime and the kubelet, so that teardown can tell their
	// chains from what the host had: another cluster's kubelet on the same
	// host makes the same KUBE-* chains, and they stay until that cluster,
	// which found them absent, removes them.
	c.iptables = iptables.Take(ctx)
	c.nfacct, c.nfacctRead = nfacctObjects(ctx)
	var dns string
	if c.services {
		proc, err := c.startDNS(bins.coredns, p.dnsReady)
		if err != nil {
			return err
		}
		c.procs = append(c.procs, proc)
		if err := waitDNS(ctx, proc, c.net.gateway, p.dnsReady); err != nil {
			return err
		}
		dns = c.net.gateway
		c.log.Info("cluster DNS ready", "address", dns, "domain", ClusterDomain, "elapsed", time.Since(began).Round(time.Millisecond))
	}
	// The runtime's directory is shared before the runtime makes its first
	// network namespace in it: a pod that mounts it with HostToContainer
	// propagation (graceline's agent) needs that, as on a node whose /run
	// is shared, and made shared later it would keep namespaces busy.
	opts := []harness.Option{harness.WithCNIConfList(conflist), harness.WithSharedDir()}
	if c.Containerd, err = harness.StartContainerdWith(ctx, harness.Containerd2, opts, images...); err != nil {
		return fmt.Errorf("start node containerd: %w", err)
	}
	c.ctdDir = c.Containerd.Dir
	c.log.Info("node containerd ready", "address", c.Containerd.Address, "elapsed", time.Since(began).Round(time.Millisecond))

	if c.sysctls, err = saveSysctls(); err != nil {
		return err
	}
	if err := makeCgroupRoot(c.cgroupRoot); err != nil {
		return err
	}
	k := kubelet{dir: c.Dir, bin: bins.kubelet, node: c.NodeName, runtime: c.Containerd.Endpoint(), cgroupRoot: c.cgroupRoot,
		kubeconfig: c.nodeKubeconfig(), address: c.net.gateway, dns: dns, clientCA: creds.kubeletCA,
		port: p.kubelet, healthzPort: p.kubeletHealthz}
	c.kubeletDir = k.rootDir()
	if c.kubelet, err = k.start(); err != nil {
		return err
	}
	return nil
}

// startServiceProxy starts kube-proxy once the node is registered (it reads
// the node's addresses) and waits until it has written its rules.
func (c *Cluster) startServiceProxy(ctx context.Context, bins k8sBinaries, p ports, creds *credentials, began time.Time) error {
	proc, err := c.startKubeProxy(bins.proxy, c.server(p), creds.proxyToken, p.proxyHealthz, p.proxyMetrics)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, proc)
	if err := waitKubeProxy(ctx, proc, p.proxyHealthz); err != nil {
		return err
	}
	c.log.Info("kube-proxy ready", "mode", "iptables", "elapsed", time.Since(began).Round(time.Millisecond))
	return nil
}
