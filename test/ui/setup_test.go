package ui

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

const (
	agentToken  = "agent-token-of-the-ui-tests"
	readerToken = "reader-token-of-the-ui-tests"
	namespace   = "ui"
)

// waitFor polls until cond holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// collector is a running graceline-collector.
type collector struct {
	grpc, web, tokens string
}

// startCollector runs graceline-collector on loopback.
func startCollector(t testing.TB) *collector {
	t.Helper()
	dir := t.TempDir()
	c := &collector{grpc: freeAddr(t), web: freeAddr(t), tokens: filepath.Join(dir, "tokens")}
	if err := os.WriteFile(c.tokens, []byte("agent "+agentToken+"\nreader "+readerToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs harness.Buffer
	cmd := exec.Command(collectorBin, "--data-dir", filepath.Join(dir, "data"), "--grpc-address", c.grpc, "--http-address", c.web, "--token-file", c.tokens)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("collector exited with %v after SIGTERM", err)
		}
		if t.Failed() {
			t.Logf("collector log:\n%s", logs.String())
		}
	})
	waitFor(t, 20*time.Second, "collector ready", func() bool {
		resp, err := http.Get("http://" + c.web + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return c
}

// events asks the collector's HTTP API for path (under /api/v1/) with the
// reader's token; nil while it answers anything but 200.
func (c *collector) events(t testing.TB, path string) []*apiv1.Event {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+c.web+"/api/v1/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var out []*apiv1.Event
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		e := new(apiv1.Event)
		if err := apiv1.UnmarshalJSONLine(sc.Bytes(), e); err != nil {
			t.Fatalf("line %q is not an event: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// summary waits for the node's termination summary of the pod in the
// collector. Until it arrives the collector derives one from the events it
// has, which may be incomplete; the node's carries the grace period.
func (c *collector) summary(t testing.TB, name string) *apiv1.Event {
	t.Helper()
	var s *apiv1.Event
	waitFor(t, 60*time.Second, "the summary of "+name+" in the collector", func() bool {
		got := c.events(t, "namespaces/"+namespace+"/pods/"+name+"/summary")
		if len(got) == 1 && got[0].GracePeriodS != nil && got[0].Verdict != "" && got[0].Verdict != apiv1.VerdictStuck {
			s = got[0]
			return true
		}
		return false
	})
	return s
}

// startRuntime starts a private containerd 2 with the test images.
func startRuntime(t testing.TB) (*harness.Containerd, *harness.Driver) {
	t.Helper()
	ctx := context.Background()
	c, err := harness.StartContainerd(ctx, harness.Containerd2, busyboxTar, pauseTar)
	if err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("clean up containerd: %v", err)
		}
	})
	d, err := harness.NewDriver(ctx, c.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return c, d
}

// startAgent runs graceline-agent against the runtime, sending to col, and
// reporting a stuck deletion 2 s past its grace period.
func startAgent(t testing.TB, c *harness.Containerd, col *collector) *harness.Agent {
	t.Helper()
	a, err := harness.StartAgent(agentBin, "--output", "-", "--node-name", "ui-node", "--cri-endpoint", c.Endpoint(),
		"--collector", col.grpc, "--token-file", col.tokens, "--spool-dir", filepath.Join(t.TempDir(), "spool"),
		"--stuck-slack", "2s", "--stuck-every", "2s", "--cri-timeout", "2s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("agent stderr:\n%s", a.Logs(0))
		}
	})
	waitFor(t, 30*time.Second, "the agent's sources", func() bool { return strings.Contains(a.Logs(0), "msg=sources") })
	if strings.Contains(a.Logs(0), "eBPF source unavailable") {
		t.Fatalf("the agent runs without its eBPF source:\n%s", a.Logs(0))
	}
	return a
}

// waitStarted waits until the agent saw every container of the pod start
// and each one's PID 1 is the workload's shell (not runc's init, which
// catches every signal before it execs) and has set its SIGTERM
// disposition.
func waitStarted(t testing.TB, a *harness.Agent, spec harness.PodSpec) {
	t.Helper()
	var pids []int32
	waitFor(t, 30*time.Second, "container_started", func() bool {
		pids = pids[:0]
		for _, e := range a.ForPod(spec.UID) {
			if e.Kind == apiv1.KindContainerStarted {
				pids = append(pids, e.GetProcess().GetPid())
			}
		}
		return len(pids) == len(spec.Containers)
	})
	for _, pid := range pids {
		waitFor(t, 30*time.Second, "the container's shell to trap SIGTERM", func() bool {
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			return err == nil && strings.TrimSpace(string(comm)) == "sh" && harness.HandlesSignal(pid, syscall.SIGTERM)
		})
	}
}

// browser is a headless Chromium; problems collects the page's uncaught
// exceptions and Content-Security-Policy violations, which fail the test.
type browser struct {
	ctx      context.Context
	problems harness.Buffer
}

// startBrowser starts Debian's chromium. Without it the test fails: the UI
// is untested otherwise.
func startBrowser(t testing.TB) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("Chromium is needed to test the web UI (Debian's chromium package, installed by hack/install-deps.sh): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1400, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	// The first action starts the browser, with no deadline: a deadline
	// on it would end the browser with it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				b.problems.Write([]byte(m.String() + "\n"))
			}
		}
	}()
	return b
}

// do runs steps with a deadline.
func (b *browser) do(t testing.TB, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a script expression in the page.
func eval[T any](t testing.TB, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls a script expression until it is true.
func (b *browser) waitJS(t testing.TB, timeout time.Duration, what, expr string) {
	t.Helper()
	waitFor(t, timeout, what+" in the page", func() bool {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		return err == nil && ok
	})
}

// screenshot saves the viewport as a PNG among the test's artifacts.
func (b *browser) screenshot(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
	return path
}

// artifactDir is where the test keeps its screenshots:
// $GRACELINE_ARTIFACTS/ui, else _output/test-artifacts/ui in the checkout,
// which outlives the test (t.TempDir does not).
func artifactDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv("GRACELINE_ARTIFACTS")
	if base == "" {
		base = filepath.Join(repoRoot, "_output", "test-artifacts")
	}
	dir := filepath.Join(base, "ui")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
