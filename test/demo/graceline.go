package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"helm.sh/helm/v3/pkg/action"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/graceline/graceline/test/cluster"
)

// namespace is where the README installs graceline.
const namespace = "graceline"

// graceline is graceline installed in the demo's cluster with its Helm
// chart, and the port-forward kubectl-graceline reaches its collector
// through, as a user does.
type graceline struct {
	bin, reader string
	address     string
	helm        *action.Configuration
	cs          kubernetes.Interface
	endForward  func()
}

// installGraceline does what the README's "Installing on a cluster" says:
// the images (`make images`) imported into the node's containerd, the
// namespace and the token Secrets by hand, a hostPath volume for the
// collector's claim (the node has no provisioner), then `helm install` with
// this node's paths; then `kubectl port-forward svc/graceline-collector`.
// The agent and the collector report stuck pods after 5 s, not 30 s, so
// that the demo need not wait.
func installGraceline(ctx context.Context, root, bin, dir string, c *cluster.Cluster) (*graceline, error) {
	tarballs, err := cluster.BuildGracelineImages(ctx, root, dir)
	if err != nil {
		return nil, err
	}
	if err := c.ImportImages(ctx, tarballs...); err != nil {
		return nil, err
	}
	cs, err := c.Client()
	if err != nil {
		return nil, err
	}
	g := &graceline{bin: bin, reader: token(), cs: cs}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	// Agents present their pods' node-bound ServiceAccount tokens: the
	// collector's token file holds the reader token only.
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "graceline-collector-tokens"},
		StringData: map[string]string{"tokens": fmt.Sprintf("reader %s\n", g.reader)},
	}
	if _, err := cs.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create Secret %s: %w", s.Name, err)
	}
	// The collector's user (the Deployment's runAsUser) owns the directory.
	if _, err := c.HostPathVolume(ctx, "graceline-collector-data", "10Gi", 65532, namespace, "graceline-collector-data"); err != nil {
		return nil, err
	}
	ch, err := cluster.GracelineChart(root)
	if err != nil {
		return nil, err
	}
	if g.helm, err = c.Helm(namespace, func(string, ...any) {}); err != nil {
		return nil, err
	}
	values := c.GracelineValues()
	values["agent"].(map[string]any)["extraArgs"] = []any{"--stuck-slack=5s", "--stuck-every=5s"}
	values["collector"] = map[string]any{"extraArgs": []any{"--stuck-after=5s", "--stuck-every=5s", "--final-summary-wait=30s"}}
	fmt.Printf("    helm install graceline deploy/helm/graceline -n %s with this node's paths: %v\n", namespace, values)
	install := action.NewInstall(g.helm)
	install.ReleaseName, install.Namespace, install.Timeout = "graceline", namespace, 3*time.Minute
	if _, err := install.RunWithContext(ctx, ch, values); err != nil {
		return nil, fmt.Errorf("helm install: %w", err)
	}
	if err := g.waitReady(ctx); err != nil {
		g.uninstall(ctx)
		return nil, err
	}
	address, pod, end, err := c.PortForwardService(ctx, namespace, "graceline-collector", "grpc", os.Stderr)
	if err != nil {
		g.uninstall(ctx)
		return nil, err
	}
	g.address, g.endForward = address, end
	fmt.Printf("    agent and collector Ready; kubectl -n %s port-forward svc/graceline-collector 7070 → %s on %s\n", namespace, pod, address)
	return g, nil
}

// waitReady waits until the agent's and the collector's pods are Ready.
func (g *graceline) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ready := 0
		for _, label := range []string{"app.kubernetes.io/name=graceline-agent", "app.kubernetes.io/name=graceline-collector"} {
			pods, err := g.cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: label})
			if err == nil && len(pods.Items) == 1 && podReady(&pods.Items[0]) {
				ready++
			}
		}
		if ready == 2 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("graceline's pods not Ready after 3 minutes (kubectl -n %s describe pods)", namespace)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func token() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cli runs kubectl-graceline against the collector through the
// port-forward, with the reader token, as the README shows.
func (g *graceline) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(g.bin, "kubectl-graceline"), args...)
	cmd.Env = append(os.Environ(), "GRACELINE_COLLECTOR="+g.address, "GRACELINE_TOKEN="+g.reader)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl-graceline %v: %w\n%s", args, err, out)
	}
	return string(bytes.TrimRight(out, "\n")), nil
}

// uninstall ends the port-forward, runs `helm uninstall`, and deletes the
// namespace and the volume, as the README's uninstall does.
func (g *graceline) uninstall(ctx context.Context) {
	if g.endForward != nil {
		g.endForward()
	}
	u := action.NewUninstall(g.helm)
	u.Wait, u.Timeout = true, 3*time.Minute
	if _, err := u.Run("graceline"); err != nil {
		fmt.Fprintln(os.Stderr, "demo: helm uninstall:", err)
	}
	if err := g.cs.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		fmt.Fprintln(os.Stderr, "demo: delete namespace:", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := g.cs.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	g.cs.CoreV1().PersistentVolumes().Delete(ctx, "graceline-collector-data", metav1.DeleteOptions{})
}
