package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// churn creates n single-container pods and deletes them, all concurrently,
// and returns their specs. during, if set, runs while the deletions are under
// way.
func churn(t *testing.T, d *harness.Driver, agent *agentProc, prefix string, n int, grace int64, command []string, during func()) []harness.PodSpec {
	t.Helper()
	ctx := context.Background()
	specs := make([]harness.PodSpec, n)
	pods := make([]*harness.Pod, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range specs {
		specs[i] = harness.PodSpec{
			Namespace: "churn", Name: fmt.Sprintf("%s-%d", prefix, i), UID: fmt.Sprintf("%s-%d-%d", prefix, i, time.Now().UnixNano()),
			GracePeriod: grace,
			Containers:  []harness.ContainerSpec{{Name: "main", Command: command}},
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			pods[i], err = d.RunPod(ctx, specs[i])
			errs <- err
		}(i)
	}
	wg.Wait()
	for range specs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range specs {
		waitStarted(t, agent, s)
	}
	for i := range pods {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- d.DeletePod(ctx, pods[i])
		}(i)
	}
	if during != nil {
		during()
	}
	wg.Wait()
	for range pods {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range specs {
		waitFor(t, 60*time.Second, s.Name+" sandbox_removed", func() bool { return hasKind(agent.forPod(s.UID), apiv1.KindSandboxRemoved) })
	}
	return specs
}

// checkSequences asserts that every pod yielded the full sequence exactly
// once, with the wanted exit code.
func checkSequences(t *testing.T, agent *agentProc, specs []harness.PodSpec, wantCode int32) {
	t.Helper()
	for _, s := range specs {
		events := agent.forPod(s.UID)
		if got := lifecycle(events); fmt.Sprint(got) != fmt.Sprint(fullSequence) {
			var detail []string
			for _, e := range events {
				if slices.Contains(fullSequence, e.Kind) {
					detail = append(detail, fmt.Sprintf("%s@%s", e.Kind, e.Time.AsTime().Format("05.000000")))
				}
			}
			t.Errorf("%s: events = %v, want %v", s.Name, detail, fullSequence)
			continue
		}
		if e := find(events, apiv1.KindContainerExited); e.ExitCode == nil || *e.ExitCode != wantCode {
			t.Errorf("%s: exit code = %v reason %q, want %d", s.Name, e.ExitCode, e.Reason, wantCode)
		}
	}
}

func TestConcurrentPods(t *testing.T) {
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startAgent(t, "--cri-endpoint", c.Endpoint())
			agent.waitLog(t, 30*time.Second, "msg=sources")
			specs := churn(t, d, agent, "conc", 20, 5, []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"}, nil)
			checkSequences(t, agent, specs, 0)
		})
	}
}

func TestContainerdRestartDuringDeletion(t *testing.T) {
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			agent := startAgent(t, "--cri-endpoint", c.Endpoint())
			agent.waitLog(t, 30*time.Second, "msg=sources")
			// Containers ignore SIGTERM, so each deletion lasts the 3 s grace
			// period and the restart lands in the middle of them.
			specs := churn(t, d, agent, "restart", 6, 3, []string{"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"}, func() {
				time.Sleep(time.Second)
				if err := c.Stop(); err != nil {
					t.Error(err)
				}
				time.Sleep(time.Second)
				if err := c.Start(context.Background()); err != nil {
					t.Error(err)
				}
			})
			checkSequences(t, agent, specs, 137)
			agent.waitLog(t, 30*time.Second, "recovered")
		})
	}
}
