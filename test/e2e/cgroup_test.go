package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// counterValue reads one sample of a Prometheus text exposition; -1 when
// it is absent.
func counterValue(body, sample string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// TestCgroupRemovalFromKernel: a two-container pod's three cgroups (two
// containers and the sandbox) are each reported removed exactly once, and
// the kernel's cgroup_rmdir events report them: the slow recheck is pushed
// out of the test's reach.
func TestCgroupRemovalFromKernel(t *testing.T) {
	for _, f := range harness.Flavors {
		t.Run(string(f), func(t *testing.T) {
			c, d := startRuntime(t, f)
			metrics := freeAddr(t)
			agent := startAgent(t, "--cri-endpoint", c.Endpoint(), "--metrics-address", metrics, "--release-recheck-period", "1m")
			agent.waitLog(t, 30*time.Second, "msg=sources")
			spec := harness.PodSpec{Namespace: "e2e", Name: "cgroups", UID: fmt.Sprintf("cgroups-%s-%d", f, time.Now().UnixNano()), GracePeriod: 3,
				Containers: []harness.ContainerSpec{
					{Name: "a", Command: shell(exitsOnTerm)},
					{Name: "b", Command: shell(exitsOnTerm)},
				}}
			pod, _ := runAndDelete(t, d, agent, spec)
			t.Cleanup(func() {
				if t.Failed() {
					for _, e := range agent.forPod(spec.UID) {
						t.Logf("%s %s %s %s", e.Time.AsTime().Format("15:04:05.000"), e.Kind, e.GetContainer().GetId(), e.Path)
					}
				}
			})
			var removed []*apiv1.Event
			waitFor(t, 20*time.Second, "three cgroup_removed", func() bool {
				removed = nil
				for _, e := range agent.forPod(spec.UID) {
					if e.Kind == apiv1.KindCgroupRemoved {
						removed = append(removed, e)
					}
				}
				return len(removed) >= 3
			})
			time.Sleep(time.Second) // room for a duplicate to show
			removed = nil
			owners := map[string]int{}
			paths := map[string]int{}
			for _, e := range agent.forPod(spec.UID) {
				if e.Kind == apiv1.KindCgroupRemoved {
					removed = append(removed, e)
					owners[e.GetContainer().GetId()]++
					paths[e.Path]++
				}
			}
			want := map[string]int{pod.Containers["a"]: 1, pod.Containers["b"]: 1, "": 1}
			if fmt.Sprint(owners) != fmt.Sprint(want) || len(paths) != 3 {
				t.Errorf("cgroup_removed by container %v (paths %v), want one for each container and one for the sandbox", owners, paths)
			}
			body := httpBody(t, "http://"+metrics+"/metrics")
			byKernel := counterValue(body, `graceline_cgroup_removals_total{found_by="kernel_event"}`)
			byStat := counterValue(body, `graceline_cgroup_removals_total{found_by="stat"}`)
			t.Logf("cgroup removals found by a kernel event: %v, by a stat: %v", byKernel, byStat)
			if byKernel < 1 || byKernel+byStat != float64(len(removed)) {
				t.Errorf("cgroup removals found by kernel event %v, by stat %v, for %d events; want the kernel's among them", byKernel, byStat, len(removed))
			}
		})
	}
}
