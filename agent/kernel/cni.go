package kernel

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/cni"
)

// Bounds on following CNI plugin runs.
const (
	// maxCNIRuns bounds the runs followed at once; more are dropped and
	// counted.
	maxCNIRuns = 1024
	// cniRunTTL is how long a run is followed without an exit before it is
	// given up (its exit was lost).
	cniRunTTL = 10 * time.Minute
	// maxCNIOutput bounds the stdout kept per run; the kernel sends less.
	maxCNIOutput = 4096
	// maxCNIMessage bounds the error message carried in an event.
	maxCNIMessage = 512
)

// cniRun is one CNI plugin run, from its exec to its exit.
type cniRun struct {
	started time.Time
	comm    string
	argv    []string
	// From the plugin's environment: CNI_COMMAND, CNI_CONTAINERID,
	// CNI_NETNS, and the pod named in CNI_ARGS, if any.
	command     string
	containerID string
	netns       string
	pod         *apiv1.PodRef
	out         []byte
}

// cniRuns joins the kernel's reports of CNI plugin runs (exec with the
// environment, stdout, exit) and turns each failed run into a
// cni_plugin_failed event. Successful runs are not reported: a pod's
// network teardown shows as netns_released.
type cniRuns struct {
	node string
	// sandboxPod finds the pod of a sandbox ID, or returns nil.
	sandboxPod func(id string) *apiv1.PodRef
	dropped    *prometheus.CounterVec
	// unparsable counts failed runs whose stdout was not a CNI error.
	unparsable prometheus.Counter
	runs       map[uint32]*cniRun
}

func newCNIRuns(node string, sandboxPod func(string) *apiv1.PodRef, dropped *prometheus.CounterVec, unparsable prometheus.Counter) *cniRuns {
	return &cniRuns{node: node, sandboxPod: sandboxPod, dropped: dropped, unparsable: unparsable, runs: map[uint32]*cniRun{}}
}

// handle takes one CNI event from the kernel and returns the event to
// emit, if the run ended in failure.
func (c *cniRuns) handle(e cni.Event) *apiv1.Event {
	switch e.Type {
	case cni.Exec:
		run, ok := parseCNIEnv(e.Env)
		if !ok {
			c.dropped.WithLabelValues("cni_env_malformed").Inc()
			return nil
		}
		if _, known := c.runs[e.Pid]; !known && len(c.runs) >= maxCNIRuns {
			c.dropped.WithLabelValues("cni_runs_full").Inc()
			return nil
		}
		run.started, run.comm, run.argv = e.Time, e.Comm, e.Argv
		c.runs[e.Pid] = run
	case cni.Output:
		if run, ok := c.runs[e.Pid]; ok {
			n := min(len(e.Output), maxCNIOutput-len(run.out))
			run.out = append(run.out, e.Output[:n]...)
		}
	case cni.Exit:
		run, ok := c.runs[e.Pid]
		if !ok {
			return nil // its start was dropped, and counted, already
		}
		delete(c.runs, e.Pid)
		if e.ExitStatus != 0 || e.ExitSignal != 0 {
			return c.failed(e, run)
		}
	}
	return nil
}

// expire gives up the runs followed for longer than cniRunTTL.
func (c *cniRuns) expire(now time.Time) {
	for pid, run := range c.runs {
		if now.Sub(run.started) > cniRunTTL {
			delete(c.runs, pid)
			c.dropped.WithLabelValues("cni_exit_missed").Inc()
		}
	}
}

func (c *cniRuns) failed(e cni.Event, run *cniRun) *apiv1.Event {
	msg, ok := cniErrorMessage(run.out)
	if !ok {
		c.unparsable.Inc()
	}
	code, sig := e.ExitStatus, int32(e.ExitSignal)
	ev := &apiv1.Event{
		Kind:       apiv1.KindCNIPluginFailed,
		Time:       timestamppb.New(e.Time),
		Node:       c.node,
		SandboxId:  run.containerID,
		Path:       run.netns,
		Process:    &apiv1.Process{Pid: int32(e.Pid), Comm: run.comm, Argv: run.argv},
		ExitCode:   &code,
		ExitSignal: &sig,
		Reason:     run.command + ": " + msg,
	}
	if run.containerID != "" {
		ev.Pod = c.sandboxPod(run.containerID)
	}
	if ev.Pod == nil {
		ev.Pod = run.pod
	}
	return ev
}

// parseCNIEnv reads the CNI_* variables of a plugin's environment. It
// fails when CNI_COMMAND is missing or is not a command word.
func parseCNIEnv(env []string) (*cniRun, bool) {
	run := &cniRun{}
	var args string
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k {
		case "CNI_COMMAND":
			run.command = v
		case "CNI_CONTAINERID":
			run.containerID = v
		case "CNI_NETNS":
			run.netns = v
		case "CNI_ARGS":
			args = v
		}
	}
	if run.command == "" || len(run.command) > 16 || strings.IndexFunc(run.command, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return nil, false
	}
	// CNI_ARGS is "K=V;K=V"; the runtime names the pod there.
	var ns, name, uid string
	for _, kv := range strings.Split(args, ";") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "K8S_POD_NAMESPACE":
			ns = v
		case "K8S_POD_NAME":
			name = v
		case "K8S_POD_UID":
			uid = v
		}
	}
	run.pod = apiv1.NewPodRef(ns, name, uid)
	return run, true
}

// cniError is the error object a CNI plugin prints on stdout.
type cniError struct {
	Code    uint   `json:"code"`
	Msg     string `json:"msg"`
	Details string `json:"details"`
}

// cniErrorMessage turns a failed plugin's stdout into one bounded line:
// the error's msg, details and code when stdout holds a CNI error object,
// else the output itself. ok is false for output that is not an error
// object.
func cniErrorMessage(out []byte) (msg string, ok bool) {
	trimmed := strings.TrimSpace(string(out))
	if trimmed == "" {
		return "no error on stdout", true
	}
	var e cniError
	if err := json.Unmarshal([]byte(trimmed), &e); err != nil || (e.Msg == "" && e.Code == 0) {
		return oneLine("output not a CNI error: "+trimmed, maxCNIMessage), false
	}
	msg = e.Msg
	if e.Details != "" && e.Details != e.Msg {
		msg += ": " + e.Details
	}
	if e.Code != 0 {
		msg += fmt.Sprintf(" (code %d)", e.Code)
	}
	return oneLine(msg, maxCNIMessage), true
}

// oneLine makes s printable on one line (control characters become
// spaces, invalid UTF-8 is replaced) and at most max bytes long.
func oneLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
