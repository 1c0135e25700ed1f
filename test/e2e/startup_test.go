package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/graceline/graceline/test/harness"
)

// TestRuntimeAbsentAtStart starts the agent before containerd exists: it must
// say so in one line per attempt, keep retrying, stay unready, and then pick
// the runtime up when it appears.
func TestRuntimeAbsentAtStart(t *testing.T) {
	c, err := harness.NewContainerd(harness.Containerd2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	metrics := freeAddr(t)
	agent := startAgent(t, "--cri-endpoint", c.Endpoint(), "--cri-timeout", "1s", "--metrics-address", metrics)

	agent.waitLog(t, 30*time.Second, "container runtime not reachable; retrying")
	waitFor(t, 30*time.Second, "a second retry", func() bool {
		return strings.Count(agent.logs(), "container runtime not reachable") >= 2
	})
	for _, line := range strings.Split(agent.logs(), "\n") {
		if strings.Contains(line, "not reachable") && !strings.Contains(line, "containerd.sock") {
			t.Errorf("retry line does not name the endpoint: %s", line)
		}
	}
	if code := httpStatus(t, "http://"+metrics+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d before the runtime is up, want 503", code)
	}
	if code := httpStatus(t, "http://"+metrics+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}

	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := harness.ImportImages(ctx, c.Address, busyboxTar, pauseTar); err != nil {
		t.Fatal(err)
	}
	agent.waitLog(t, 60*time.Second, "msg=sources")
	waitFor(t, 30*time.Second, "/readyz 200", func() bool { return httpStatus(t, "http://"+metrics+"/readyz") == http.StatusOK })

	d, err := harness.NewDriver(ctx, c.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	spec := harness.PodSpec{Namespace: "e2e", Name: "late", UID: fmt.Sprintf("late-%d", time.Now().UnixNano()), GracePeriod: 2,
		Containers: []harness.ContainerSpec{{Name: "main", Command: []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"}}}}
	runAndDelete(t, d, agent, spec)

	body := httpBody(t, "http://"+metrics+"/metrics")
	for _, want := range []string{`graceline_events_total{kind="sandbox_removed"} 1`, `graceline_source_up{source="cri_stream"} 1`, `graceline_source_up{source="containerd"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
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

func httpStatus(t testing.TB, url string) int {
	t.Helper()
	resp, err := httpGet(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
