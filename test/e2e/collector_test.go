package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

const (
	e2eAgentToken  = "agent-token-of-the-e2e-tests"
	e2eReaderToken = "reader-token-of-the-e2e-tests"
)

// startCollector runs graceline-collector on loopback and returns its gRPC
// address and token file.
func startCollector(t testing.TB) (addr, tokens string) {
	t.Helper()
	dir := t.TempDir()
	tokens = filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("agent "+e2eAgentToken+"\nreader "+e2eReaderToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, web := freeAddr(t), freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(collectorBin, "--data-dir", filepath.Join(dir, "data"), "--grpc-address", addr, "--http-address", web, "--token-file", tokens)
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
	waitFor(t, 20*time.Second, "collector ready", func() bool { return httpStatus(t, "http://"+web+"/readyz") == http.StatusOK })
	return addr, tokens
}

// cli runs kubectl-graceline against the collector and returns its stdout.
func cli(t testing.TB, addr string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(cliBin, append([]string{"--collector", addr, "--token", e2eReaderToken}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl-graceline %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func parseLines(t *testing.T, out string) []*apiv1.Event {
	t.Helper()
	var events []*apiv1.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		e := new(apiv1.Event)
		if err := apiv1.UnmarshalJSONLine(sc.Bytes(), e); err != nil {
			t.Fatalf("line %q is not an event: %v", sc.Text(), err)
		}
		events = append(events, e)
	}
	return events
}

// canonical encodes events deterministically and sorts them, so that two
// sets of events compare regardless of order.
func canonical(t *testing.T, events []*apiv1.Event) []string {
	t.Helper()
	var out []string
	for _, e := range events {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

// TestTimelineThroughCollector deletes a pod on the real runtime with an
// agent that both prints its events and sends them to a collector, and
// checks what kubectl-graceline shows: the table, and -o json matching
// what the agent emitted.
func TestTimelineThroughCollector(t *testing.T) {
	c, d := startRuntime(t, harness.Containerd2)
	addr, tokens := startCollector(t)
	agent := startAgent(t, "--cri-endpoint", c.Endpoint(), "--collector", addr, "--token-file", tokens,
		"--spool-dir", filepath.Join(t.TempDir(), "spool"))
	agent.waitLog(t, 30*time.Second, "msg=sources")

	// A live watch, started before the deletion, must see it happen.
	watch := exec.Command(cliBin, "--collector", addr, "--token", e2eReaderToken, "watch", "-n", "e2e", "-o", "json")
	var watched, watchLog harness.Buffer
	watch.Stdout, watch.Stderr = &watched, &watchLog
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the watch to be in place", func() bool { return strings.Contains(watchLog.String(), "watching") })
	defer func() {
		watch.Process.Signal(syscall.SIGTERM)
		watch.Wait()
	}()

	name := fmt.Sprintf("ignores-term-%d", time.Now().UnixNano()%100000)
	spec := harness.PodSpec{
		Namespace: "e2e", Name: name, UID: fmt.Sprintf("uid-%s", name), GracePeriod: 2,
		Containers: []harness.ContainerSpec{{Name: "main", Command: []string{"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"}}},
	}
	runAndDelete(t, d, agent, spec)

	// The pod's events go on after sandbox_removed (resources released,
	// the summary), so what the agent emitted is read again at every poll:
	// the collector must come to hold exactly that.
	var stored, emitted []*apiv1.Event
	same := false
	for deadline := time.Now().Add(30 * time.Second); !same && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		emitted = agent.forPod(spec.UID)
		out, err := cli(t, addr, "timeline", "e2e/"+name, "-o", "json")
		if err != nil {
			continue
		}
		stored = parseLines(t, out)
		same = fmt.Sprint(canonical(t, stored)) == fmt.Sprint(canonical(t, emitted))
	}
	t.Run("-o json is what the agent emitted", func(t *testing.T) {
		if !same {
			t.Errorf("within 30 s, the collector had %d events %v\nagent emitted %d %v", len(stored), kinds(stored), len(emitted), kinds(emitted))
		}
		for i := 1; i < len(stored); i++ {
			if stored[i].Time.AsTime().Before(stored[i-1].Time.AsTime()) {
				t.Errorf("timeline not in time order at %d: %s before %s", i, stored[i-1].Kind, stored[i].Kind)
			}
		}
	})
	t.Run("the table shows the verdict and every step", func(t *testing.T) {
		out, err := cli(t, addr, "timeline", name, "-n", "e2e", "--all")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("kubectl-graceline timeline:\n%s", out)
		wants := []string{"POD e2e/" + name, "node e2e-node", "VERDICT killed", "CAUSE   main  signal_ignored: the stop signal is ignored",
			"TRY   sh (pid", "ignores SIGTERM", "main exit=137 reason=Error"}
		wants = append(wants, fullSequence...)
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("timeline lacks %q:\n%s", w, out)
			}
		}
	})
	t.Run("list shows the termination as killed", func(t *testing.T) {
		out, err := cli(t, addr, "list", "-n", "e2e", "--verdict", "killed")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("kubectl-graceline list:\n%s", out)
		if !strings.Contains(out, name) || !strings.Contains(out, "main=137") || !strings.Contains(out, "main=signal_ignored") {
			t.Errorf("list lacks the pod:\n%s", out)
		}
	})
	t.Run("watch saw the deletion live", func(t *testing.T) {
		waitFor(t, 10*time.Second, "sandbox_removed in the watch", func() bool {
			for _, e := range parseLines(t, watched.String()) {
				if e.GetPod().GetUid() == spec.UID && e.Kind == apiv1.KindSandboxRemoved {
					return true
				}
			}
			return false
		})
	})
}
