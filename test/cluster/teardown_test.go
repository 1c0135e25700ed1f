package cluster_test

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/graceline/graceline/test/cluster"
	"github.com/graceline/graceline/test/cluster/iptables"
)

// TestTeardownWithRunningPods starts a second cluster beside the shared one,
// leaves a bridge-network pod and a hostNetwork pod running in it, and
// tears it down: the hard case, with pod mounts, a veth, a network
// namespace and pod cgroups still in place. Nothing may be left.
//
// Its kubelet finds the shared cluster's KUBE-* iptables chains in place,
// which are not its to remove; so a KUBE-* chain and a jump to it are
// added while it runs, as kube-proxy would, and must be gone after its
// teardown, while the shared cluster's rules stay. It runs no kube-proxy of
// its own, since the shared cluster's owns the host's KUBE-SERVICES chains;
// the shared cluster's teardown, checked by TestMain, removes those.
func TestTeardownWithRunningPods(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
	shared := iptables.Take(ctx)
	c, err := cluster.Start(ctx, cluster.Options{Images: images, NodeName: "teardown-node", Log: log, NoServices: true})
	if err != nil {
		t.Fatalf("start second cluster: %v", err)
	}
	// Torn down also when the test fails early; Close is idempotent.
	t.Cleanup(func() { c.Close() })
	t.Logf("second cluster start-up took %s", c.StartupTime.Round(time.Millisecond))
	cs, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	for _, hostNetwork := range []bool{false, true} {
		pod := busyboxPod("default", "left-running-"+map[bool]string{false: "bridge", true: "host"}[hostNetwork], "sleep 3600", 30)
		pod.Spec.HostNetwork = hostNetwork
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod: %v", err)
		}
		waitFor(t, runningTimeout, pod.Name+" running", func() bool {
			p, err := cs.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning
		})
	}
	chain := "KUBE-GL-TEARDOWN-TEST"
	for _, args := range [][]string{{"-N", chain}, {"-A", chain, "-s", "192.0.2.1/32", "-j", "RETURN"}, {"-A", "INPUT", "-s", "192.0.2.1/32", "-j", chain}} {
		if out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("iptables %v: %v: %s", args, err, out)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("tear down: %v", err)
	}
	if left := c.Leftovers(); len(left) > 0 {
		t.Errorf("teardown left behind:\n  %s", strings.Join(left, "\n  "))
	}
	if out, err := exec.Command("iptables", "-w", "-S", chain).CombinedOutput(); err == nil {
		t.Errorf("chain %s is still there:\n%s", chain, out)
	}
	if gone := iptables.Leftovers(iptables.Diff(iptables.Take(ctx), shared, iptables.Kubernetes)); len(gone) > 0 {
		t.Errorf("teardown removed what the shared cluster had made:\n  %s", strings.Join(gone, "\n  "))
	}
}

// testLogWriter sends a logger's lines to the test log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
