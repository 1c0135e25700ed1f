package e2e

import (
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

func TestDebugSummary(t *testing.T) {
	for _, f := range harness.Flavors {
		c, d := startRuntime(t, f)
		agent := startAgent(t, "--cri-endpoint", c.Endpoint())
		agent.waitLog(t, 30*time.Second, "msg=sources")
		spec := harness.PodSpec{Namespace: "e2e", Name: "dbg", UID: fmt.Sprintf("dbg-%d", time.Now().UnixNano()), GracePeriod: 3,
			Containers: []harness.ContainerSpec{{Name: "main", Command: []string{"/bin/sh", "-c", "trap '' TERM; sleep 3600 & wait"},
				PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"sleep", "1"}}}}}}
		runAndDelete(t, d, agent, spec)
		waitFor(t, 10*time.Second, "summary", func() bool { return hasKind(agent.forPod(spec.UID), "termination_summary") })
		for _, e := range agent.forPod(spec.UID) {
			b, _ := apiv1.MarshalJSONLine(e)
			if e.Kind != "process_exited" && e.Kind != "signal_delivered" {
				t.Log(string(b))
			}
		}
	}
}
