package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Agent is a running graceline-agent --output - whose JSON lines are
// collected for tests to read.
type Agent struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []*apiv1.Event
	bad    []string
	stderr bytes.Buffer
	done   chan struct{}
}

// StartAgent runs argv (the agent binary and its flags, possibly behind a
// wrapper such as setpriv). The agent dies with the test process.
func StartAgent(argv ...string) (*Agent, error) {
	a := &Agent{done: make(chan struct{})}
	a.cmd = exec.Command(argv[0], argv[1:]...)
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
	return a, nil
}

func (a *Agent) read(r io.Reader) {
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

// Pid is the agent's process ID.
func (a *Agent) Pid() int { return a.cmd.Process.Pid }

// Events returns every event so far, in order.
func (a *Agent) Events() []*apiv1.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*apiv1.Event(nil), a.events...)
}

// ForPod returns the events about the pod with the given UID, in order.
func (a *Agent) ForPod(uid string) []*apiv1.Event {
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

// Logs returns the last n bytes the agent logged (everything when n <= 0).
func (a *Agent) Logs(n int) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.stderr.Bytes()
	if n > 0 && len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Stop sends SIGTERM and checks that the agent exits cleanly and printed
// only valid JSON lines.
func (a *Agent) Stop() error {
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		a.cmd.Process.Kill()
		a.cmd.Wait()
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

// Crash kills the agent with SIGKILL, as a node would on an OOM kill, and
// waits for it.
func (a *Agent) Crash() {
	a.cmd.Process.Kill()
	<-a.done
	a.cmd.Wait()
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
