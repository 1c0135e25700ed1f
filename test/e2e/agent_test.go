package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// agentProc is a running graceline-agent whose JSON lines are collected.
type agentProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []*apiv1.Event
	bad    []string
	stderr bytes.Buffer
	done   chan struct{}
	// crashed is set when a test killed the agent on purpose.
	crashed bool
}

// crash kills the agent with SIGKILL, as a node would on an OOM kill.
func (a *agentProc) crash() {
	a.crashed = true
	a.cmd.Process.Kill()
	<-a.done
}

// startAgent runs graceline-agent with args and stops it with SIGTERM at the
// end of the test, checking that it exits cleanly.
func startAgent(t *testing.T, args ...string) *agentProc {
	t.Helper()
	return startAgentWrapped(t, nil, args...)
}

// startAgentWrapped runs the agent under a wrapper command (setpriv, say).
func startAgentWrapped(t *testing.T, wrap []string, args ...string) *agentProc {
	t.Helper()
	a := &agentProc{done: make(chan struct{})}
	argv := append(append(wrap, agentBin, "--output", "-", "--node-name", "e2e-node"), args...)
	a.cmd = exec.Command(argv[0], argv[1:]...)
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a.cmd.Stderr = &syncWriter{mu: &a.mu, w: &a.stderr}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go a.read(stdout)
	t.Cleanup(func() {
		if a.crashed {
			a.cmd.Wait()
			return
		}
		a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(20 * time.Second):
			a.cmd.Process.Kill()
			t.Errorf("agent did not exit within 20s of SIGTERM")
		}
		if err := a.cmd.Wait(); err != nil {
			t.Errorf("agent exited with %v after SIGTERM", err)
		}
		if t.Failed() {
			t.Logf("agent stderr:\n%s", a.logs())
		}
	})
	return a
}

func (a *agentProc) read(r io.Reader) {
	defer close(a.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e apiv1.Event
		err := apiv1.UnmarshalJSONLine(sc.Bytes(), &e)
		a.mu.Lock()
		if err != nil {
			a.bad = append(a.bad, sc.Text())
		} else {
			a.events = append(a.events, &e)
		}
		a.mu.Unlock()
	}
}

func (a *agentProc) logs() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stderr.String()
}

// forPod returns the events about the pod with the given UID, in order.
func (a *agentProc) forPod(uid string) []*apiv1.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*apiv1.Event
	for _, e := range a.events {
		if e.GetPod().GetUid() == uid {
			out = append(out, e)
		}
	}
	return out
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (a *agentProc) waitLog(t *testing.T, timeout time.Duration, substr string) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("agent log %q", substr), func() bool { return strings.Contains(a.logs(), substr) })
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// startRuntime starts a private containerd of flavor f with the test images.
func startRuntime(t *testing.T, f harness.Flavor) (*harness.Containerd, *harness.Driver) {
	t.Helper()
	ctx := context.Background()
	c, err := harness.StartContainerd(ctx, f, busyboxTar, pauseTar)
	if err != nil {
		t.Fatalf("start %s: %v", f, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log tail:\n%s", f, tailFile(c.Log))
		}
		if err := c.Close(); err != nil {
			t.Errorf("clean up %s: %v", f, err)
		}
	})
	d, err := harness.NewDriver(ctx, c.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return c, d
}
