package kernel

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/cni"
)

func TestCNIRuns(t *testing.T) {
	t0 := time.Unix(1000, 0)
	env := func(command string) []string {
		return []string{"PATH=/bin", "CNI_CONTAINERID=sb1", "CNI_COMMAND=" + command, "CNI_NETNS=/var/run/netns/cni-1",
			"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=from-args;K8S_POD_INFRA_CONTAINER_ID=sb1", "CNI_IFNAME=eth0"}
	}
	start := func(pid uint32, env []string) cni.Event {
		return cni.Event{Type: cni.Exec, Pid: pid, Time: t0, Comm: "cnifail", Argv: []string{"/opt/cni/bin/cnifail"}, Env: env}
	}
	output := func(pid uint32, s string) cni.Event {
		return cni.Event{Type: cni.Output, Pid: pid, Output: []byte(s)}
	}
	exit := func(pid uint32, status int32, sig syscall.Signal) cni.Event {
		return cni.Event{Type: cni.Exit, Pid: pid, Time: t0.Add(time.Second), ExitStatus: status, ExitSignal: sig}
	}
	known := &apiv1.PodRef{Namespace: "ns", Name: "web", Uid: "u1"}
	cases := []struct {
		name       string
		sandboxes  map[string]*apiv1.PodRef
		events     []cni.Event
		wantReason string // empty: nothing emitted
		wantPod    *apiv1.PodRef
		wantExit   int32
		wantDrop   string
		wantGarble bool
	}{
		{
			name:       "a failed DEL gives its error message, split over writes, and its sandbox's pod",
			sandboxes:  map[string]*apiv1.PodRef{"sb1": known},
			events:     []cni.Event{start(10, env("DEL")), output(10, `{"cniVersion":"1.0.0","code":999,`), output(10, `"msg":"DEL fails","details":"marker exists"}`), exit(10, 1, 0)},
			wantReason: "DEL: DEL fails: marker exists (code 999)", wantPod: known, wantExit: 1,
		},
		{
			name:       "a sandbox the runtime has not reported is attributed from CNI_ARGS",
			events:     []cni.Event{start(10, env("ADD")), output(10, `{"code":11,"msg":"try again"}`), exit(10, 1, 0)},
			wantReason: "ADD: try again (code 11)", wantPod: &apiv1.PodRef{Namespace: "ns", Name: "from-args"}, wantExit: 1,
		},
		{
			name:   "a run that succeeds gives nothing",
			events: []cni.Event{start(10, env("DEL")), output(10, `{}`), exit(10, 0, 0)},
		},
		{
			name:       "a run killed by a signal says so, without output",
			sandboxes:  map[string]*apiv1.PodRef{"sb1": known},
			events:     []cni.Event{start(10, env("DEL")), exit(10, 0, syscall.SIGKILL)},
			wantReason: "DEL: no error on stdout", wantPod: known,
		},
		{
			name:       "output that is not a CNI error is carried on one line and counted",
			sandboxes:  map[string]*apiv1.PodRef{"sb1": known},
			events:     []cni.Event{start(10, env("DEL")), output(10, "panic: oops\n\tgoroutine 1"), exit(10, 2, 0)},
			wantReason: "DEL: output not a CNI error: panic: oops  goroutine 1", wantPod: known, wantExit: 2, wantGarble: true,
		},
		{
			name:     "an environment without CNI_COMMAND is dropped and counted",
			events:   []cni.Event{start(10, []string{"PATH=/bin", "CNI_CONTAINERID=sb1"}), exit(10, 1, 0)},
			wantDrop: "cni_env_malformed",
		},
		{
			name:     "a CNI_COMMAND that is not a command word is dropped and counted",
			events:   []cni.Event{start(10, []string{"CNI_COMMAND=\x01rm -rf"}), exit(10, 1, 0)},
			wantDrop: "cni_env_malformed",
		},
		{
			name:   "an exit whose start was never seen gives nothing",
			events: []cni.Event{output(11, "x"), exit(11, 1, 0)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "d"}, []string{"reason"})
			garbled := prometheus.NewCounter(prometheus.CounterOpts{Name: "g"})
			c := newCNIRuns("n", func(id string) *apiv1.PodRef { return tc.sandboxes[id] }, dropped, garbled)
			var out []*apiv1.Event
			for _, e := range tc.events {
				if ev := c.handle(e); ev != nil {
					out = append(out, ev)
				}
			}
			if tc.wantReason == "" {
				if len(out) != 0 {
					t.Fatalf("emitted %v", out)
				}
			} else {
				if len(out) != 1 {
					t.Fatalf("emitted %v, want one event", out)
				}
				e := out[0]
				if e.Kind != apiv1.KindCNIPluginFailed || e.Reason != tc.wantReason || e.GetExitCode() != tc.wantExit || e.SandboxId != "sb1" || e.Path != "/var/run/netns/cni-1" {
					t.Errorf("event %v, want reason %q exit %d for sandbox sb1", e, tc.wantReason, tc.wantExit)
				}
				if e.GetPod().GetName() != tc.wantPod.Name || e.GetPod().GetUid() != tc.wantPod.Uid {
					t.Errorf("pod %v, want %v", e.GetPod(), tc.wantPod)
				}
				if e.GetProcess().GetComm() != "cnifail" || e.GetProcess().GetPid() != 10 {
					t.Errorf("process %v, want cnifail pid 10", e.GetProcess())
				}
			}
			if tc.wantDrop != "" && testutil.ToFloat64(dropped.WithLabelValues(tc.wantDrop)) != 1 {
				t.Errorf("drop %s not counted", tc.wantDrop)
			}
			if got := testutil.ToFloat64(garbled) == 1; got != tc.wantGarble {
				t.Errorf("unparsable counted %v, want %v", got, tc.wantGarble)
			}
			if len(c.runs) != 0 {
				t.Errorf("%d runs still followed after their exits", len(c.runs))
			}
		})
	}
}

func TestCNIRunsBounds(t *testing.T) {
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "d"}, []string{"reason"})
	c := newCNIRuns("n", func(string) *apiv1.PodRef { return nil }, dropped, prometheus.NewCounter(prometheus.CounterOpts{Name: "g"}))
	t0 := time.Unix(1000, 0)
	t.Run("runs past the bound are dropped and counted", func(t *testing.T) {
		for pid := range uint32(maxCNIRuns + 5) {
			c.handle(cni.Event{Type: cni.Exec, Pid: pid, Time: t0, Env: []string{"CNI_COMMAND=DEL"}})
		}
		if len(c.runs) != maxCNIRuns || testutil.ToFloat64(dropped.WithLabelValues("cni_runs_full")) != 5 {
			t.Errorf("%d runs followed, %v dropped", len(c.runs), testutil.ToFloat64(dropped.WithLabelValues("cni_runs_full")))
		}
	})
	t.Run("a run's output is bounded and its message cut on a character", func(t *testing.T) {
		c.runs = map[uint32]*cniRun{}
		c.handle(cni.Event{Type: cni.Exec, Pid: 1, Time: t0, Env: []string{"CNI_COMMAND=DEL"}})
		for range 10 {
			c.handle(cni.Event{Type: cni.Output, Pid: 1, Output: []byte(strings.Repeat("é", 500))})
		}
		if n := len(c.runs[1].out); n != maxCNIOutput {
			t.Errorf("kept %d bytes of output, want %d", n, maxCNIOutput)
		}
		e := c.handle(cni.Event{Type: cni.Exit, Pid: 1, ExitStatus: 1})
		if len(e.Reason) > len("DEL: ")+maxCNIMessage || !strings.HasSuffix(e.Reason, "é…") {
			t.Errorf("reason of %d bytes ends %q", len(e.Reason), e.Reason[len(e.Reason)-8:])
		}
	})
	t.Run("runs without an exit are given up and counted", func(t *testing.T) {
		c.handle(cni.Event{Type: cni.Exec, Pid: 2, Time: t0, Env: []string{"CNI_COMMAND=DEL"}})
		c.expire(t0.Add(cniRunTTL + time.Second))
		if len(c.runs) != 0 || testutil.ToFloat64(dropped.WithLabelValues("cni_exit_missed")) != 1 {
			t.Errorf("%d runs left after expiry", len(c.runs))
		}
	})
}
