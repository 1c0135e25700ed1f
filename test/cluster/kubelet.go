package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// kubeletConfig follows what runs on these hosts: cgroup v1 (hybrid) needs
// failCgroupV1 false; cgroupfs matches the private containerd's runc; swap
// may be on; eviction thresholds are low so that a busy CI disk does not
// evict the test pods; image GC never runs, so the imported local images
// stay. Every path the kubelet writes lies in the cluster's directory, pods'
// cgroups sit under a cgroup root of their own. The kubelet's API listens on
// the node's address only, for the API server's calls (logs, exec,
// port-forward), which must present a client certificate of its CA; it
// takes no anonymous request. Its healthz stays on loopback, and the
// read-only port is off. With a cluster DNS, pods resolve Service names
// through it, as on any node.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: {{.Address}}
port: {{.Port}}
healthzBindAddress: 127.0.0.1
healthzPort: {{.HealthzPort}}
readOnlyPort: 0
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: {{.CgroupRoot}}
containerRuntimeEndpoint: {{.Runtime}}
podLogsDir: {{.Dir}}/pod-logs
volumePluginDir: {{.Dir}}/volume-plugins
resolvConf: ""
{{- if .DNS}}
clusterDNS: [{{.DNS}}]
clusterDomain: {{.Domain}}
{{- end}}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: {{.ClientCA}}
authorization:
  mode: AlwaysAllow
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
  imagefs.inodesFree: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
`

// kubelet holds what startKubelet needs.
type kubelet struct {
	dir, bin, node, runtime, cgroupRoot, kubeconfig string
	// address is the node's IP, which the kubelet reports and listens on.
	address string
	// dns is the cluster DNS server's address, or empty for none.
	dns               string
	clientCA          string
	port, healthzPort int
}

// rootDir is the kubelet's private --root-dir. The kubelet bind-mounts it
// onto itself (rshared), so it must be unmounted at teardown.
func (k kubelet) rootDir() string { return filepath.Join(k.dir, "kubelet") }

func (k kubelet) start() (*process, error) {
	cfgPath := filepath.Join(k.dir, "kubelet-config.yaml")
	f, err := os.Create(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("write kubelet config: %w", err)
	}
	err = template.Must(template.New("kubelet").Parse(kubeletConfig)).Execute(f, map[string]string{
		"Port": strconv.Itoa(k.port), "HealthzPort": strconv.Itoa(k.healthzPort), "CgroupRoot": k.cgroupRoot,
		"Runtime": k.runtime, "Dir": k.dir, "Address": k.address, "DNS": k.dns, "Domain": ClusterDomain, "ClientCA": k.clientCA,
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write kubelet config: %w", err)
	}
	p, err := startProcess(k.dir, "kubelet", k.bin,
		"--config", cfgPath,
		"--kubeconfig", k.kubeconfig,
		"--root-dir", k.rootDir(),
		"--cert-dir", filepath.Join(k.rootDir(), "pki"),
		"--hostname-override", k.node,
		"--node-ip", k.address,
		"--v", "2",
	)
	if err != nil {
		return nil, fmt.Errorf("start kubelet: %w", err)
	}
	return p, nil
}

// waitNodeReady waits until the node is registered, Ready, and free of the
// taints that keep pods off a node that is not ready yet.
func waitNodeReady(ctx context.Context, p *process, cs *kubernetes.Clientset, node string) error {
	return poll(ctx, 3*time.Minute, "node "+node+" Ready", func() (bool, error) {
		if err := p.running(); err != nil {
			return false, err
		}
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, t := range n.Spec.Taints {
			if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
				return false, nil
			}
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
}

// WaitServiceAccount waits until the service-account controller has made the
// namespace's default ServiceAccount, without which the API server rejects
// pods, and the root-CA publisher its kube-root-ca.crt ConfigMap, without
// which their token volume cannot be mounted.
func WaitServiceAccount(ctx context.Context, cs kubernetes.Interface, namespace string) error {
	return poll(ctx, 2*time.Minute, "default ServiceAccount in "+namespace, func() (bool, error) {
		if _, err := cs.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, nil
		}
		_, err := cs.CoreV1().ConfigMaps(namespace).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, nil
	})
}
