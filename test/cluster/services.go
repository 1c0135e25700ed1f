package cluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// ClusterDomain is the DNS domain of the cluster's Services:
// <service>.<namespace>.svc.cluster.local.
const ClusterDomain = "cluster.local"

// kubeProxyConfig runs kube-proxy in iptables mode, as most nodes do. It
// takes the pod range as the cluster's, so that it masquerades only what
// comes from outside it. It leaves the host's conntrack settings alone
// (maxPerCore and the timeouts at 0) and does not route NodePorts on
// loopback, which would set net.ipv4.conf.all.route_localnet; its servers
// listen on loopback only.
const kubeProxyConfig = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: {{.Kubeconfig}}
hostnameOverride: {{.Node}}
healthzBindAddress: 127.0.0.1:{{.HealthzPort}}
metricsBindAddress: 127.0.0.1:{{.MetricsPort}}
clusterCIDR: {{.PodSubnet}}
nodePortAddresses: ["{{.Address}}/32"]
iptables:
  localhostNodePorts: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`

// corefile serves the cluster's zone from the API, on the node's address,
// as a node-local DNS does: pods' resolv.conf names that address. Names
// outside the zone are refused; nothing beyond this host is reachable. It
// reads Services and EndpointSlices with the admin's kubeconfig.
const corefile = `{{.Domain}}:53 {
    bind {{.Address}}
    errors
    ready 127.0.0.1:{{.ReadyPort}}
    kubernetes {{.Domain}} {
        kubeconfig {{.Kubeconfig}}
        pods disabled
    }
}
`

// startKubeProxy writes kube-proxy's configuration and kubeconfig and
// starts it.
func (c *Cluster) startKubeProxy(bin, server, token string, healthzPort, metricsPort int) (*process, error) {
	kubeconfig := filepath.Join(c.Dir, "kube-proxy.kubeconfig")
	if err := writeKubeconfig(kubeconfig, server, apiServerCA(c.Dir), "system:kube-proxy", token); err != nil {
		return nil, err
	}
	cfg := filepath.Join(c.Dir, "kube-proxy-config.yaml")
	if err := writeTemplate(cfg, kubeProxyConfig, map[string]string{
		"Kubeconfig": kubeconfig, "Node": c.NodeName, "HealthzPort": strconv.Itoa(healthzPort),
		"MetricsPort": strconv.Itoa(metricsPort), "PodSubnet": c.net.subnet, "Address": c.net.gateway,
	}); err != nil {
		return nil, err
	}
	p, err := startProcess(c.Dir, "kube-proxy", bin, "--config", cfg, "--v", "2")
	if err != nil {
		return nil, fmt.Errorf("start kube-proxy: %w", err)
	}
	return p, nil
}

// waitKubeProxy waits until kube-proxy's healthz says it has written its
// rules once.
func waitKubeProxy(ctx context.Context, p *process, healthzPort int) error {
	hc := http.Client{Timeout: 2 * time.Second}
	return poll(ctx, 2*time.Minute, "kube-proxy synced", func() (bool, error) {
		if err := p.running(); err != nil {
			return false, err
		}
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", healthzPort))
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// startDNS writes the Corefile and starts CoreDNS.
func (c *Cluster) startDNS(bin string, readyPort int) (*process, error) {
	cfg := filepath.Join(c.Dir, "Corefile")
	if err := writeTemplate(cfg, corefile, map[string]string{
		"Domain": ClusterDomain, "Address": c.net.gateway, "ReadyPort": strconv.Itoa(readyPort), "Kubeconfig": c.Kubeconfig,
	}); err != nil {
		return nil, err
	}
	p, err := startProcess(c.Dir, "coredns", bin, "-conf", cfg)
	if err != nil {
		return nil, fmt.Errorf("start coredns: %w", err)
	}
	return p, nil
}

// waitDNS waits until CoreDNS has read the API (its ready endpoint) and
// answers for the kubernetes Service on the node's address.
func waitDNS(ctx context.Context, p *process, address string, readyPort int) error {
	hc := http.Client{Timeout: 2 * time.Second}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(address, "53"))
	}}
	name := "kubernetes.default.svc." + ClusterDomain + "."
	return poll(ctx, time.Minute, "coredns ready", func() (bool, error) {
		if err := p.running(); err != nil {
			return false, err
		}
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", readyPort))
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, nil
		}
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(lctx, name)
		return err == nil && len(addrs) > 0, nil
	})
}

// otherKubeProxy returns the pid and command line of a kube-proxy already
// running on the host, if any: two would rewrite each other's chains.
func otherKubeProxy() (int, string) {
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, f := range comms {
		b, err := os.ReadFile(f)
		if err != nil || strings.TrimSpace(string(b)) != "kube-proxy" {
			continue
		}
		dir := filepath.Dir(f)
		pid, _ := strconv.Atoi(filepath.Base(dir))
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		return pid, strings.ReplaceAll(strings.TrimSpace(string(cmdline)), "\x00", " ")
	}
	return 0, ""
}

// writeTemplate writes a text template's output to path.
func writeTemplate(path, text string, data any) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = template.Must(template.New(filepath.Base(path)).Parse(text)).Execute(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
