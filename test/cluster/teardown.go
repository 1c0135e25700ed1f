package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/graceline/graceline/test/cluster/iptables"
)

// Close tears the cluster down and removes everything it made: the kubelet
// first (so it restarts nothing), then the runtime with every pod (its CNI
// DEL removes the pods' veths and network namespaces), the kubelet's mounts
// and cgroups, kube-proxy, the cluster DNS and the control plane, the
// bridge, the KUBE-* iptables chains and rules the kubelet and kube-proxy
// added and kube-proxy's netfilter accounting objects, the directories at
// fixed host paths it created, and its own directory. It also puts back the kernel
// settings the kubelet changed. It goes on past
// errors and returns them all; Leftovers then says what, if anything,
// survived. Close is safe on a partly started cluster.
func (c *Cluster) Close() error {
	if c == nil {
		return nil
	}
	began := time.Now()
	var errs []error
	c.kubelet.stop(30 * time.Second)
	if c.Containerd != nil {
		// Its directory, log included, goes with it.
		if c.keepLogs != "" {
			c.copyLogs(c.Containerd.Log)
		}
		if err := c.Containerd.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close node containerd: %w", err))
		}
	}
	if c.Dir != "" {
		unmountUnder(c.Dir)
	}
	if c.cgroupRoot != "" {
		// Processes of killed containers may take a moment to leave their cgroups.
		err := poll(context.Background(), 20*time.Second, "cgroups removed", func() (bool, error) {
			return removeCgroupRoot(c.cgroupRoot) == nil, nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup root %s: %w", c.cgroupRoot, removeCgroupRoot(c.cgroupRoot)))
		}
	}
	if c.net.bridge != "" {
		if ports := c.net.ports(); len(ports) > 0 {
			errs = append(errs, fmt.Errorf("bridge %s still has ports %v: a pod network was not torn down", c.net.bridge, ports))
		}
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(30 * time.Second)
	}
	// The control plane listened on the bridge's address: it goes last.
	if c.net.bridge != "" {
		if err := c.net.removeBridge(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.sysctls != nil {
		if err := restoreSysctls(c.sysctls); err != nil {
			errs = append(errs, err)
		}
	}
	// The kubelet (and kube-proxy, where one runs) never remove their
	// chains; only what was added since the snapshot goes.
	if c.iptables != nil {
		if err := iptables.Undo(context.Background(), c.iptables, iptables.Kubernetes); err != nil {
			errs = append(errs, err)
		}
	}
	// After the rules that count in them.
	if c.nfacctRead {
		if err := removeNfacctObjects(context.Background(), c.nfacct); err != nil {
			errs = append(errs, err)
		}
	}
	removeHostPaths(c.hostPaths, c.Dir)
	if c.keepLogs != "" && c.Dir != "" {
		logs, _ := filepath.Glob(filepath.Join(c.Dir, "*.log"))
		if err := c.copyLogs(logs...); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Dir != "" {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove cluster dir: %w", err))
		}
	}
	c.log.Info("cluster torn down", "took", time.Since(began).Round(time.Millisecond), "errors", len(errs), "kept_logs", c.keepLogs)
	return errors.Join(errs...)
}

// copyLogs copies log files into keepLogs/<cluster dir name>.
func (c *Cluster) copyLogs(logs ...string) error {
	dst := filepath.Join(c.keepLogs, filepath.Base(c.Dir))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("keep logs: %w", err)
	}
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(l)), b, 0o644); err != nil {
			return fmt.Errorf("keep logs: %w", err)
		}
	}
	return nil
}

// Leftovers lists whatever of the cluster is still on the host after Close:
// processes that name its directories, mounts below them, the directories
// themselves, its cgroups, its bridge, kernel settings not put back, what
// it made at fixed host paths, KUBE-* iptables chains and rules that were
// not there before it started, and kube-proxy's netfilter accounting
// objects.
// An empty list means the host is as it was.
func (c *Cluster) Leftovers() []string {
	var out []string
	for _, dir := range []string{c.Dir, c.ctdDir} {
		if dir == "" {
			continue
		}
		for _, p := range processesNaming(dir) {
			out = append(out, "process "+p)
		}
		for _, m := range mountsUnder(dir) {
			out = append(out, "mount "+m)
		}
		if _, err := os.Stat(dir); err == nil {
			out = append(out, "directory "+dir)
		}
	}
	if c.cgroupRoot != "" {
		dirs, _ := cgroupRootDirs(c.cgroupRoot)
		for _, d := range dirs {
			out = append(out, "cgroup "+d)
		}
	}
	if c.net.bridge != "" && c.net.bridgeExists() {
		out = append(out, "bridge "+c.net.bridge)
	}
	if c.sysctls != nil {
		out = append(out, changedSysctls(c.sysctls)...)
	}
	if c.iptables != nil {
		out = append(out, iptables.Leftovers(iptables.Diff(c.iptables, iptables.Take(context.Background()), iptables.Kubernetes))...)
	}
	if c.nfacctRead {
		for _, n := range newNfacctObjects(context.Background(), c.nfacct) {
			out = append(out, "nfacct object "+n)
		}
	}
	if c.Dir != "" {
		out = append(out, hostPathLeftovers(c.hostPaths, c.Dir, c.net.name)...)
	}
	return out
}

// processesNaming lists "pid: cmdline" of every process whose command line
// mentions dir: the daemons, the kubelet, containerd and its shims all do.
// Containers' own processes do not, but they live in the cluster's cgroups,
// which Leftovers checks too.
func processesNaming(dir string) []string {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	self := fmt.Sprint(os.Getpid())
	var out []string
	for _, p := range procs {
		pid := filepath.Base(filepath.Dir(p))
		b, err := os.ReadFile(p)
		if err != nil || pid == self {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmdline, dir) {
			out = append(out, pid+": "+cmdline)
		}
	}
	return out
}
