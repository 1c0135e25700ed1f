package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/graceline/graceline/test/cluster"
	"github.com/graceline/graceline/test/harness"
)

// The tests of this package share one cluster and one graceline-agent
// watching its node, as a DaemonSet's agent would; TestMain starts both
// and, after the tests, stops them and fails the run if anything is left.
var (
	testCluster  *cluster.Cluster
	client       *kubernetes.Clientset
	agent        *agentProc
	collector    *collectorProc // the agent sends to it; its cluster side runs as the deployment's ServiceAccount
	images       []string       // image-layout tarballs, for clusters a test starts itself
	agentBin     string
	collectorBin string
	cliBin       string
	tmpDir       string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "!!! the cluster tests need root to run a kubelet, containerd and runc; SKIPPING ALL CLUSTER TESTS !!!")
		return 0
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Ctrl-C (or a SIGTERM from a CI runner) still tears the cluster down.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := harness.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "gl-cluster-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	tmpDir = dir
	agentBin, collectorBin, cliBin = filepath.Join(dir, "graceline-agent"), filepath.Join(dir, "graceline-collector"), filepath.Join(dir, "kubectl-graceline")
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/graceline-agent", "./cmd/graceline-collector", "./cmd/kubectl-graceline", "./test/cluster/cmd/kubectl")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build graceline's commands: %v\n%s", err, out)
		return 1
	}
	busybox, pause, err := harness.BuildImages(ctx, root, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	images = []string{busybox, pause}

	testCluster, err = cluster.Start(ctx, cluster.Options{Images: images, Log: log, KeepLogs: os.Getenv("GRACELINE_CLUSTER_LOGS")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start cluster:", err)
		return 1
	}
	// Printed, not logged, so that `go test ./...` shows it on success too.
	fmt.Printf("cluster start-up took %s (etcd, kube-apiserver, controller manager, scheduler, containerd, kubelet; node Ready)\n", testCluster.StartupTime.Round(time.Millisecond))

	var once sync.Once
	teardown := func() (code int) {
		once.Do(func() {
			if err := testCluster.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "tear down cluster:", err)
				code = 1
			}
			if left := testCluster.Leftovers(); len(left) > 0 {
				fmt.Fprintf(os.Stderr, "FAIL: the cluster left behind:\n  %s\n", strings.Join(left, "\n  "))
				code = 1
			}
		})
		return code
	}
	// A signal while the tests run tears the cluster down before exiting.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			fmt.Fprintln(os.Stderr, "interrupted: tearing the cluster down")
			teardown()
			os.Exit(1)
		}
	}()
	code := runTests(m, root)
	if tc := teardown(); tc != 0 {
		code = tc
	}
	return code
}

// runTests starts a collector watching the cluster with the deployment's
// RBAC and the agent on the node's containerd sending to it, runs the
// tests, and stops both, which must exit cleanly.
func runTests(m *testing.M, root string) int {
	ctx := context.Background()
	var err error
	if client, err = testCluster.Client(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	saNS, saName, err := testCluster.ApplyRBAC(ctx, filepath.Join(root, cluster.CollectorRBAC))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kubeconfig := filepath.Join(tmpDir, "collector.kubeconfig")
	if err := testCluster.ServiceAccountKubeconfig(ctx, saNS, saName, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The collector also serves the aggregated API, as the deployment's
	// does, with the rights the deployment's aggregated-api.yaml grants.
	if err := testCluster.GrantAuthDelegation(ctx, saNS, saName); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	apiAddr, err := freeAddrOn(testCluster.NodeAddress())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	collectorDir := filepath.Join(tmpDir, "collector")
	if err := os.Mkdir(collectorDir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if collector, err = startCollector(collectorBin, collectorDir, kubeconfig, apiAddr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if agent, err = startAgent(agentBin, testCluster.NodeName, testCluster.Containerd.Endpoint(), testCluster.KubeletRootDir(),
		"--collector", collector.grpc, "--token-file", collector.tokenFile(), "--spool-dir", filepath.Join(tmpDir, "spool")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		collector.stop()
		return 1
	}
	code := m.Run()
	if err := agent.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		code = 1
	}
	if err := collector.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "agent log tail:\n%s\ncollector log:\n%s\n%s", agent.logTail(4000), tail(collector.logs.String(), 8000), testCluster.Logs(4000))
	}
	return code
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
