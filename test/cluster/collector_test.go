package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	collectorclient "github.com/graceline/graceline/collector/client"
	"github.com/graceline/graceline/test/harness"
)

const (
	agentToken  = "agent-token-of-the-cluster-tests"
	readerToken = "reader-token-of-the-cluster-tests"
	// The collector's cluster-side thresholds in the tests: short, so that
	// a stuck report comes within seconds.
	testStuckAfter = 3 * time.Second
	testStuckEvery = 5 * time.Second
)

// collectorProc is a graceline-collector on loopback; it keeps its data
// directory and addresses across restarts.
type collectorProc struct {
	bin, dir, kubeconfig string
	grpc, web            string
	// api, when set, is where the collector serves the aggregated API: on
	// the node's address, which the API server's front proxy dials.
	api string
	// extra are further flags, kept across restarts (a test that turns on
	// the OTLP export sets them, then clears them).
	extra  []string
	cmd    *exec.Cmd
	logs   *harness.Buffer
	exited chan struct{}
}

// startCollector runs a collector whose cluster side uses kubeconfig; with
// api set, it serves the aggregated API there too.
func startCollector(bin, dir, kubeconfig, api string) (*collectorProc, error) {
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("agent "+agentToken+"\nreader "+readerToken+"\n"), 0o600); err != nil {
		return nil, err
	}
	c := &collectorProc{bin: bin, dir: dir, kubeconfig: kubeconfig, api: api, logs: &harness.Buffer{}}
	var err error
	if c.grpc, err = freeAddr(); err != nil {
		return nil, err
	}
	if c.web, err = freeAddr(); err != nil {
		return nil, err
	}
	return c, c.start()
}

func (c *collectorProc) tokenFile() string { return filepath.Join(c.dir, "tokens") }

func (c *collectorProc) start() error {
	c.cmd = exec.Command(c.bin, "--data-dir", filepath.Join(c.dir, "data"), "--token-file", c.tokenFile(),
		"--grpc-address", c.grpc, "--http-address", c.web,
		"--kubernetes", "on", "--kubeconfig", c.kubeconfig,
		// Agents may also come with node-bound tokens (TestAgentIdentity),
		// reviewed with the rights of the deployment's aggregated-api.yaml.
		"--agent-service-account", agentSANamespace+"/"+agentSAName,
		"--stuck-after", testStuckAfter.String(), "--stuck-every", testStuckEvery.String(), "--final-summary-wait", "30s")
	if c.api != "" {
		c.cmd.Args = append(c.cmd.Args, "--aggregated-api-address", c.api)
	}
	c.cmd.Args = append(c.cmd.Args, c.extra...)
	fmt.Fprintf(c.logs, "----- collector started %s -----\n", time.Now().Format(time.RFC3339Nano))
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start collector: %w", err)
	}
	c.exited = make(chan struct{})
	go func() {
		c.cmd.Wait()
		close(c.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + c.web + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("collector exited at start: %v\n%s", c.cmd.ProcessState, c.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.cmd.Process.Kill()
			return fmt.Errorf("collector not ready after 30s:\n%s", c.logs.String())
		}
	}
}

// stop ends the collector with SIGTERM; it must exit cleanly.
func (c *collectorProc) stop() error {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("collector did not exit within 30s of SIGTERM")
	}
	if !c.cmd.ProcessState.Success() {
		return fmt.Errorf("collector exited with %v after SIGTERM", c.cmd.ProcessState)
	}
	return nil
}

// query dials the collector as a reader.
func (c *collectorProc) query() (apiv1.QueryClient, func(), error) {
	cc, err := collectorclient.Dial(collectorclient.Options{Address: c.grpc, Token: readerToken})
	if err != nil {
		return nil, nil, err
	}
	return apiv1.NewQueryClient(cc), func() { cc.Close() }, nil
}

// timeline returns the pod's events and summary as the collector has them.
func (c *collectorProc) timeline(uid string) ([]*apiv1.Event, *apiv1.Event, error) {
	q, done, err := c.query()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := q.Timeline(ctx, &apiv1.TimelineRequest{Uid: uid})
	if err != nil {
		return nil, nil, err
	}
	return resp.Events, resp.Summary, nil
}

// stuck returns the collector's stuck reports in a namespace.
func (c *collectorProc) stuck(namespace string) ([]*apiv1.Event, error) {
	q, done, err := c.query()
	if err != nil {
		return nil, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := q.Stuck(ctx, &apiv1.StuckRequest{Namespace: namespace})
	if err != nil {
		return nil, err
	}
	return resp.Stuck, nil
}

// cli runs kubectl-graceline against the collector as a reader.
func (c *collectorProc) cli(args ...string) (string, error) {
	cmd := exec.Command(cliBin, append([]string{"--collector", c.grpc, "--token", readerToken}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl-graceline %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// httpGet returns the status and body of one of the collector's HTTP paths.
func (c *collectorProc) httpGet(path string) (int, string, error) {
	resp, err := http.Get("http://" + c.web + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func freeAddr() (string, error) { return freeAddrOn("127.0.0.1") }

// freeAddrOn returns a free port on host, as host:port.
func freeAddrOn(host string) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// apiEvents returns the cluster-side events among events.
func apiEvents(events []*apiv1.Event) []*apiv1.Event {
	var out []*apiv1.Event
	for _, e := range events {
		if e.Source == apiv1.SourceAPI {
			out = append(out, e)
		}
	}
	return out
}

// countKinds counts events by kind, as "kind×n" in kind order, for messages.
func countKinds(events []*apiv1.Event) map[string]int {
	n := map[string]int{}
	for _, e := range events {
		n[e.Kind]++
	}
	return n
}

// describe renders events one per line, for failure messages.
func describe(events []*apiv1.Event) string {
	var b strings.Builder
	for _, e := range events {
		line, _ := apiv1.MarshalJSONLine(e)
		b.Write(line)
		if !bytes.HasSuffix(line, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
