package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
)

// etcdBin is Debian's etcd-server, installed by hack/install-deps.sh. It is
// run by hand with its own data dir, never as the system service.
const etcdBin = "/usr/bin/etcd"

// startEtcd starts a one-member etcd on loopback with its data in dir/etcd.
func startEtcd(dir string, clientPort, peerPort int) (*process, string, error) {
	client := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	p, err := startProcess(dir, "etcd", etcdBin,
		"--name", "graceline",
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "graceline="+peer,
		"--initial-cluster-state", "new",
	)
	if err != nil {
		return nil, "", fmt.Errorf("start etcd: %w", err)
	}
	return p, client, nil
}

// waitEtcd polls etcd's /health until it reports healthy.
func waitEtcd(ctx context.Context, p *process, url string) error {
	hc := http.Client{Timeout: 2 * time.Second}
	return poll(ctx, 60*time.Second, "etcd healthy", func() (bool, error) {
		if err := p.running(); err != nil {
			return false, err
		}
		resp, err := hc.Get(url + "/health")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// apiServerArgs are kube-apiserver's flags: listening on the node's
// address, where the host's clients and pods (through the kubernetes
// Service and kube-proxy) reach it alike, static-token authentication, Node
// and RBAC authorization, and a self-signed serving certificate generated
// into certDir, valid for the node's address and the kubernetes Service's.
// The endpoint reconciler publishes that address as the kubernetes
// Service's endpoint. The API server reaches the kubelet (logs, exec,
// port-forward) by the node's InternalIP, since nothing resolves the node's
// name, with a client certificate the kubelet trusts. Its front proxy
// passes users to aggregated APIs (graceline.dev) with the front-proxy
// client certificate, and dials an APIService's endpoints directly, since
// a host process behind a Service is reached by no kube-proxy rule.
func apiServerArgs(dir, etcdURL, address string, port int, creds *credentials) []string {
	return []string{
		"--etcd-servers", etcdURL,
		"--bind-address", address,
		"--advertise-address", address,
		"--secure-port", strconv.Itoa(port),
		"--cert-dir", filepath.Join(dir, "apiserver-pki"),
		"--token-auth-file", creds.tokenFile,
		"--authorization-mode", "Node,RBAC",
		"--service-account-key-file", creds.saPub,
		"--service-account-signing-key-file", creds.saKey,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", serviceCIDR,
		"--kubelet-preferred-address-types", "InternalIP",
		"--kubelet-client-certificate", creds.kubeletClientCert,
		"--kubelet-client-key", creds.kubeletClientKey,
		"--allow-privileged=true",
		"--profiling=false",
		"--requestheader-client-ca-file", creds.frontProxyCA,
		"--requestheader-allowed-names", frontProxyClient,
		"--requestheader-username-headers", "X-Remote-User",
		"--requestheader-uid-headers", "X-Remote-Uid",
		"--requestheader-group-headers", "X-Remote-Group",
		"--requestheader-extra-headers-prefix", "X-Remote-Extra-",
		"--proxy-client-cert-file", creds.proxyClientCert,
		"--proxy-client-key-file", creds.proxyClientKey,
		"--enable-aggregator-routing=true",
	}
}

// serviceCIDR is the range the API server allocates Service IPs from;
// kube-proxy routes it on the node.
const serviceCIDR = "10.239.0.0/24"

// apiServerCA is the self-signed certificate kube-apiserver writes into its
// --cert-dir; clients and the controller manager trust it.
func apiServerCA(dir string) string { return filepath.Join(dir, "apiserver-pki", "apiserver.crt") }

// waitAPIServer polls /readyz until every post-start hook (RBAC bootstrap
// roles, system namespaces, priority classes) has finished.
func waitAPIServer(ctx context.Context, p *process, dir string, client func() (*kubernetes.Clientset, error)) error {
	return poll(ctx, 2*time.Minute, "kube-apiserver ready", func() (bool, error) {
		if err := p.running(); err != nil {
			return false, err
		}
		if _, err := os.Stat(apiServerCA(dir)); err != nil {
			return false, nil
		}
		cs, err := client()
		if err != nil {
			return false, err
		}
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
}

// controllerManagerArgs runs every controller: the service-account and
// root-CA publisher controllers make the default ServiceAccount and the
// kube-root-ca.crt ConfigMap that projected token volumes need, the
// EndpointSlice controller follows pods, and the node lifecycle controller
// lifts the not-ready taint.
func controllerManagerArgs(dir, kubeconfig string, port int, creds *credentials) []string {
	return []string{
		"--kubeconfig", kubeconfig,
		"--controllers", "*",
		"--root-ca-file", apiServerCA(dir),
		"--service-account-private-key-file", creds.saKey,
		"--use-service-account-credentials=false",
		// It creates this directory at start; the default is /usr/libexec.
		"--flex-volume-plugin-dir", filepath.Join(dir, "flexvolume"),
		"--leader-elect=false",
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(port),
		"--profiling=false",
	}
}

// schedulerArgs runs the scheduler with the admin kubeconfig.
func schedulerArgs(kubeconfig string, port int) []string {
	return []string{
		"--kubeconfig", kubeconfig,
		"--leader-elect=false",
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(port),
		"--profiling=false",
	}
}

// poll calls cond every 200 ms until it returns true or an error, the
// timeout passes, or ctx ends.
func poll(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for %s: not done after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
