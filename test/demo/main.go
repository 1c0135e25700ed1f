// Command demo shows graceline-agent at work on a real containerd 2.x: it
// starts a private containerd, runs three pods, deletes them the way the
// kubelet does, and prints the agent's events for each. It cleans up on exit
// and on Ctrl-C.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func run(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the demo runs containerd and runc and needs root")
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gl-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	step("building graceline-agent and the local busybox and pause images")
	agentBin := filepath.Join(dir, "graceline-agent")
	build := exec.CommandContext(ctx, "go", "build", "-o", agentBin, "./cmd/graceline-agent")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build agent: %w: %s", err, out)
	}
	busybox, pause, err := harness.BuildImages(ctx, root, dir)
	if err != nil {
		return err
	}

	step("starting a private containerd 2.x")
	c, err := harness.StartContainerd(ctx, harness.Containerd2, busybox, pause)
	if err != nil {
		return err
	}
	defer func() {
		step("cleaning up containerd")
		c.Close()
	}()

	step("starting graceline-agent --output -")
	agent := exec.Command(agentBin, "--cri-endpoint", c.Endpoint(), "--output", "-", "--node-name", "demo-node")
	agent.Stderr = os.Stderr
	out, err := agent.StdoutPipe()
	if err != nil {
		return err
	}
	if err := agent.Start(); err != nil {
		return err
	}
	var mu sync.Mutex
	byPod := map[string][]*apiv1.Event{}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var e apiv1.Event
			if apiv1.UnmarshalJSONLine(sc.Bytes(), &e) == nil {
				mu.Lock()
				byPod[e.GetPod().GetName()] = append(byPod[e.GetPod().GetName()], &e)
				mu.Unlock()
			}
		}
	}()
	defer func() {
		agent.Process.Signal(syscall.SIGTERM)
		agent.Wait()
	}()

	d, err := harness.NewDriver(ctx, c.Endpoint())
	if err != nil {
		return err
	}
	defer d.Close()
	shell := func(s string) []string { return []string{"/bin/sh", "-c", s} }
	// The workloads wait on one long sleep rather than polling, so that
	// their timelines hold only what the termination did.
	pods := []harness.PodSpec{
		{Name: "graceful", GracePeriod: 5, Containers: []harness.ContainerSpec{{Name: "web", Command: shell("trap 'exit 0' TERM; sleep 3600 & wait")}}},
		{Name: "ignores-sigterm", GracePeriod: 3, Containers: []harness.ContainerSpec{{Name: "web", Command: shell("trap '' TERM; sleep 3600 & wait")}}},
		{Name: "prestop-sleep", GracePeriod: 4, Containers: []harness.ContainerSpec{{Name: "web", Command: shell("trap 'exit 0' TERM; sleep 3600 & wait"),
			PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"sleep", "1"}}}}}},
	}
	for _, spec := range pods {
		spec.Namespace, spec.UID = "demo", fmt.Sprintf("%s-%d", spec.Name, time.Now().UnixNano())
		step("pod demo/%s (grace %ds): create, then delete as the kubelet does", spec.Name, spec.GracePeriod)
		pod, err := d.RunPod(ctx, spec)
		if err != nil {
			return err
		}
		time.Sleep(time.Second)
		start := time.Now()
		if err := d.DeletePod(ctx, pod); err != nil {
			return err
		}
		if err := waitRemoved(ctx, &mu, byPod, spec.Name); err != nil {
			return err
		}
		mu.Lock()
		printTimeline(spec.Name, start, byPod[spec.Name])
		mu.Unlock()
	}
	return nil
}

func waitRemoved(ctx context.Context, mu *sync.Mutex, byPod map[string][]*apiv1.Event, name string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		events := byPod[name]
		mu.Unlock()
		for _, e := range events {
			if e.Kind == apiv1.KindTerminationSummary {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("pod %s: no termination_summary within 30s", name)
}

func printTimeline(name string, start time.Time, events []*apiv1.Event) {
	fmt.Printf("POD demo/%s\n", name)
	for _, e := range events {
		if e.Kind == apiv1.KindTerminationSummary {
			fmt.Printf("VERDICT %s  grace=%ds killed=%v exit codes %v\n", e.Verdict, e.GetGracePeriodS(), e.GetKilled(), e.ExitCodes)
			for _, p := range e.Phases {
				fmt.Printf("  phase %-17s %+8.3fs .. %+8.3fs\n", p.Name, p.Start.AsTime().Sub(start).Seconds(), p.End.AsTime().Sub(start).Seconds())
			}
		}
	}
	for _, e := range events {
		if e.Kind == apiv1.KindTerminationSummary {
			continue
		}
		fmt.Printf("  %+8.3fs  %-18s %s\n", e.Time.AsTime().Sub(start).Seconds(), e.Kind, describe(e))
	}
}

// describe says who acted on whom, in one line.
func describe(e *apiv1.Event) string {
	var d []string
	if c := e.GetContainer(); c != nil {
		d = append(d, c.Name)
	}
	switch e.Kind {
	case apiv1.KindSignalGenerated:
		d = append(d, fmt.Sprintf("%s %s(%d) -> pid %d (%s) result=%s", e.Signal.Name, e.Sender.Comm, e.Sender.Pid, e.Target.Pid, e.Target.Comm, e.Signal.Result))
	case apiv1.KindSignalDelivered:
		d = append(d, fmt.Sprintf("%s to pid %d (%s) disposition=%s", e.Signal.Name, e.Target.Pid, e.Target.Comm, e.Disposition))
	case apiv1.KindProcessExited:
		d = append(d, fmt.Sprintf("pid %d (%s) exit=%d signal=%d", e.Process.Pid, e.Process.Comm, e.GetExitCode(), e.GetExitSignal()))
	case apiv1.KindPreStopExec, apiv1.KindExec:
		d = append(d, fmt.Sprintf("pid %d %q", e.Process.Pid, strings.Join(e.Process.Argv, " ")))
	case apiv1.KindContainerStarted:
		d = append(d, fmt.Sprintf("pid %d", e.GetProcess().GetPid()))
	case apiv1.KindContainerExited:
		d = append(d, fmt.Sprintf("exit=%d reason=%s", e.GetExitCode(), e.Reason))
	}
	return strings.Join(d, " ")
}
