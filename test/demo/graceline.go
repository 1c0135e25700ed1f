package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/graceline/graceline/test/cluster"
)

// graceline is the collector and agent the demo runs.
type graceline struct {
	bin, tokens  string
	grpc, http   string
	collector    *exec.Cmd
	agent        *exec.Cmd
	collectorLog string
}

// startGraceline runs the collector, watching the cluster's API with the
// deployment's RBAC, and the agent on the node's containerd.
func startGraceline(ctx context.Context, root, bin, dir string, c *cluster.Cluster) (*graceline, error) {
	g := &graceline{bin: bin, tokens: filepath.Join(dir, "tokens"), collectorLog: filepath.Join(dir, "collector.log")}
	var err error
	if g.grpc, err = freePort(); err != nil {
		return nil, err
	}
	if g.http, err = freePort(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(g.tokens, []byte("agent "+token()+"\nreader "+token()+"\n"), 0o600); err != nil {
		return nil, err
	}
	saNS, saName, err := c.ApplyRBAC(ctx, filepath.Join(root, cluster.CollectorRBAC))
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "collector.kubeconfig")
	if err := c.ServiceAccountKubeconfig(ctx, saNS, saName, kubeconfig); err != nil {
		return nil, err
	}
	logf, err := os.Create(g.collectorLog)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	g.collector = exec.Command(filepath.Join(bin, "graceline-collector"), "--data-dir", filepath.Join(dir, "data"),
		"--grpc-address", g.grpc, "--http-address", g.http, "--token-file", g.tokens,
		"--kubernetes", "on", "--kubeconfig", kubeconfig, "--stuck-after", "5s", "--stuck-every", "5s", "--final-summary-wait", "30s")
	g.collector.Stdout, g.collector.Stderr = logf, logf
	// Its own session: with DEMO_KEEP=1 it outlives the demo, and a Ctrl-C
	// at the terminal reaches only the demo, which then stops it in order.
	g.collector.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := g.collector.Start(); err != nil {
		return nil, fmt.Errorf("start collector: %w", err)
	}
	if err := waitHTTP(ctx, "http://"+g.http+"/readyz"); err != nil {
		g.stop()
		return nil, fmt.Errorf("collector not ready: %w", err)
	}

	agentLog, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		g.stop()
		return nil, err
	}
	defer agentLog.Close()
	g.agent = exec.Command(filepath.Join(bin, "graceline-agent"),
		"--cri-endpoint", c.Containerd.Endpoint(), "--node-name", c.NodeName,
		"--collector", g.grpc, "--token-file", g.tokens, "--spool-dir", filepath.Join(dir, "spool"),
		"--kubelet-root", c.KubeletRootDir(), "--stuck-slack", "5s", "--stuck-every", "5s")
	g.agent.Stdout, g.agent.Stderr = agentLog, agentLog
	g.agent.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := g.agent.Start(); err != nil {
		g.stop()
		return nil, fmt.Errorf("start agent: %w", err)
	}
	fmt.Printf("    collector %s (logs %s), agent watching %s\n", g.grpc, g.collectorLog, c.Containerd.Endpoint())
	return g, nil
}

func token() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cli runs kubectl-graceline against the collector.
func (g *graceline) cli(ctx context.Context, args ...string) (string, error) {
	args = append(args, "--collector", g.grpc, "--token-file", g.tokens)
	out, err := exec.CommandContext(ctx, filepath.Join(g.bin, "kubectl-graceline"), args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl-graceline %v: %w\n%s", args, err, out)
	}
	return string(bytes.TrimRight(out, "\n")), nil
}

// stop stops the agent and, unless it is kept, the collector.
func (g *graceline) stop() {
	for _, cmd := range []*exec.Cmd{g.agent, g.collector} {
		if cmd == nil || cmd.Process == nil {
			continue
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
		}
	}
}

// keep leaves the collector running after the demo and says how to use it.
func (g *graceline) keep() {
	pid := g.collector.Process.Pid
	g.collector.Process.Release()
	g.collector = nil
	fmt.Printf(`
DEMO_KEEP=1: the collector keeps running (pid %d). Query it with:
  kubectl-graceline list --collector %s --token-file %s
  curl -H "Authorization: Bearer $(awk '$1=="reader"{print $2}' %s)" http://%s/api/v1/terminations
Stop it with: kill %d
`, pid, g.grpc, g.tokens, g.tokens, g.http, pid)
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not answering 200 within 30s", url)
}
