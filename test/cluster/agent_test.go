package cluster_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// agentProc is a running graceline-agent --output - whose JSON lines are
// collected for the tests to read.
type agentProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []*apiv1.Event
	bad    []string
	stderr bytes.Buffer
	done   chan struct{}
}

// startAgent runs the agent on the node's CRI socket and waits until it
// reports its sources live.
func startAgent(bin, node, endpoint, kubeletRoot string) (*agentProc, error) {
	a := &agentProc{done: make(chan struct{})}
	a.cmd = exec.Command(bin, "--output", "-", "--node-name", node, "--cri-endpoint", endpoint, "--kubelet-root", kubeletRoot)
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	a.cmd.Stderr = lockedWriter{mu: &a.mu, w: &a.stderr}
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	go a.read(stdout)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(a.logTail(1<<20), "msg=sources") {
		if time.Now().After(deadline) {
			a.stop()
			return nil, fmt.Errorf("agent not ready after 30s; log:\n%s", a.logTail(4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return a, nil
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

// stop sends SIGTERM and checks that the agent exits cleanly and printed
// only valid JSON lines.
func (a *agentProc) stop() error {
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		a.cmd.Process.Kill()
		return fmt.Errorf("agent did not exit within 20s of SIGTERM")
	}
	if err := a.cmd.Wait(); err != nil {
		return fmt.Errorf("agent exited with %v after SIGTERM", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.bad) > 0 {
		return fmt.Errorf("agent printed %d lines that are not events, first: %q", len(a.bad), a.bad[0])
	}
	return nil
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

func (a *agentProc) logTail(n int) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.stderr.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
