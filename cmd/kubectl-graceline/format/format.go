// Package format turns events into the short phrases kubectl-graceline
// prints: who acted on whom, relative times, signal names.
package format

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/internal/cli"
)

// Source says who reported e: "API" for the collector's watches of the
// Kubernetes API, "node" for an agent. A kind only those watches make
// counts as theirs even without the source field.
func Source(e *apiv1.Event) string {
	if e.Source == apiv1.SourceAPI || apiv1.IsAPIKind(e.Kind) {
		return "API"
	}
	return "node"
}

// Relative formats an offset with about four significant digits, as a
// timeline reads best: +0.041s, +5.125s, +30.13s, +312.4s.
func Relative(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	s := d.Seconds()
	switch {
	case s < 10:
		return fmt.Sprintf("%s%.3fs", sign, s)
	case s < 100:
		return fmt.Sprintf("%s%.2fs", sign, s)
	case s < 1000:
		return fmt.Sprintf("%s%.1fs", sign, s)
	}
	return fmt.Sprintf("%s%.0fs", sign, s)
}

// Duration formats a span the same way, without a sign.
func Duration(d time.Duration) string { return strings.TrimPrefix(Relative(d), "+") }

var signalNames = map[int32]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 6: "SIGABRT", 9: "SIGKILL", 10: "SIGUSR1",
	12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 17: "SIGCHLD", 19: "SIGSTOP", 28: "SIGWINCH",
}

// SignalName names a signal: the event's own name when given.
func SignalName(s *apiv1.Signal) string {
	if s.GetName() != "" {
		return s.GetName()
	}
	if n, ok := signalNames[s.GetNumber()]; ok {
		return n
	}
	return "signal " + strconv.Itoa(int(s.GetNumber()))
}

// exitSignalName is the short form process exits use: KILL, TERM.
func exitSignalName(n int32) string {
	return strings.TrimPrefix(SignalName(&apiv1.Signal{Number: n}), "SIG")
}

// Detail describes e in one line, escaped for a terminal: most of what it
// holds (process names, argv, reasons, paths, evidence) comes from the
// workload.
func Detail(e *apiv1.Event) string { return cli.Escape(detail(e)) }

func detail(e *apiv1.Event) string {
	ctr := e.GetContainer().GetName()
	switch e.Kind {
	case apiv1.KindContainerStarted:
		if pid := e.GetProcess().GetPid(); pid > 0 {
			return fmt.Sprintf("%s pid=%d", ctr, pid)
		}
	case apiv1.KindContainerExited:
		return join(ctr, exit(e), kv("reason", e.Reason))
	case apiv1.KindPreStopExec:
		return fmt.Sprintf("%s: %s", ctr, argv(e.GetProcess()))
	case apiv1.KindSignalGenerated:
		d := fmt.Sprintf("%s %s → %s", SignalName(e.Signal), sender(e.Sender), target(ctr, e.Target))
		if r := e.GetSignal().GetResult(); r != "" && r != "delivered" {
			d += "  result=" + r
		}
		return d
	case apiv1.KindSignalDelivered:
		return join(fmt.Sprintf("%s → %s", SignalName(e.Signal), target(ctr, e.Target)), kv("disposition", e.Disposition), times(e.Count))
	case apiv1.KindProcessExited:
		p := e.GetProcess()
		return join(ctr, fmt.Sprintf("pid %d (%s)", p.GetPid(), p.GetComm()), exit(e))
	case apiv1.KindNetNSReleased, apiv1.KindCgroupRemoved, apiv1.KindRootfsReleased, apiv1.KindMountsReleased:
		return e.Path
	case apiv1.KindTerminationSummary:
		return join(kv("verdict", e.Verdict), kv("causes", Causes(e)), phases(e.Phases), clusterKV(e))
	case apiv1.KindContainerSummary:
		return join(ctr, kv("verdict", e.Verdict), exit(e), kv("cause", causeOf(e, ctr)), phases(e.Phases))
	case apiv1.KindContainerInspected:
		return join(ctr, inspected(e))
	case apiv1.KindStuck:
		return stuck(e)
	case apiv1.KindDeleteRequested:
		d := "finalizers=" + Finalizers(e.Finalizers)
		if e.GracePeriodS != nil {
			d = fmt.Sprintf("grace=%ds %s", *e.GracePeriodS, d)
		}
		return d
	case apiv1.KindEndpointNotReady, apiv1.KindEndpointRemoved:
		d := "svc " + e.Service
		if e.EndpointSlice != "" {
			d += " (slice " + e.EndpointSlice + ")"
		}
		return d
	case apiv1.KindFinalizersChanged:
		return "finalizers=" + Finalizers(e.Finalizers)
	case apiv1.KindPodDeleted:
		// The reason, when set, says why the time is only approximate.
		if e.Reason != "" {
			return "(" + e.Reason + ")"
		}
		return ""
	case apiv1.KindCNIPluginFailed:
		// reason starts with the CNI command: "DEL: <the plugin's error>".
		return join(fmt.Sprintf("plugin %s for sandbox %s", e.GetProcess().GetComm(), short(e.SandboxId)), exit(e), e.Reason)
	case apiv1.KindEventsDropped:
		return fmt.Sprintf("%d events lost (%s)", e.GetDrop().GetCount(), e.GetDrop().GetReason())
	}
	return join(ctr, kv("reason", e.Reason), e.Path)
}

// causeOf is the cause a container summary gives its container.
func causeOf(e *apiv1.Event, ctr string) string {
	for _, c := range e.GetCauses() {
		if c.GetContainer().GetName() == ctr {
			return c.GetCause()
		}
	}
	return ""
}

// inspected shows what the agent read of a container at its stop: each
// process with the signal sets that decide a cause, the init first.
func inspected(e *apiv1.Event) string {
	var parts []string
	if e.GetFrozen() {
		parts = append(parts, "FROZEN")
	}
	for _, p := range e.GetProcesses() {
		parts = append(parts, fmt.Sprintf("pid %d (%s) ignored=%s caught=%s blocked=%s", p.GetPid(), p.GetComm(),
			signalSet(p.GetSigIgnored()), signalSet(p.GetSigCaught()), signalSet(p.GetSigBlocked())))
	}
	return strings.Join(parts, "; ")
}

// signalSet shows a signal set as /proc readers know it: TERM,CHLD; "-" for
// none.
func signalSet(set []string) string {
	if len(set) == 0 {
		return "-"
	}
	out := make([]string, len(set))
	for i, s := range set {
		out[i] = strings.TrimPrefix(s, "SIG")
	}
	return strings.Join(out, ",")
}

func exit(e *apiv1.Event) string {
	var parts []string
	if e.ExitCode != nil {
		parts = append(parts, fmt.Sprintf("exit=%d", *e.ExitCode))
	}
	if e.ExitSignal != nil && *e.ExitSignal != 0 {
		parts = append(parts, "signal="+exitSignalName(*e.ExitSignal))
	}
	return strings.Join(parts, " ")
}

func sender(s *apiv1.Sender) string {
	if s == nil {
		return "?"
	}
	d := fmt.Sprintf("%s(%d)", s.Comm, s.Pid)
	if s.ContainerId != "" {
		d += " in " + short(s.ContainerId)
	}
	return d
}

func target(ctr string, t *apiv1.Task) string {
	d := fmt.Sprintf("pid %d (%s)", t.GetPid(), t.GetComm())
	if ctr != "" {
		d = ctr + " " + d
	}
	return d
}

func argv(p *apiv1.Process) string {
	var out []string
	for _, a := range p.GetArgv() {
		if a == "" || strings.ContainsAny(a, " \t\"'") {
			a = strconv.Quote(a)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return p.GetComm()
	}
	return strings.Join(out, " ")
}

func phases(ps []*apiv1.Phase) string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s=%s", p.Name, Duration(p.End.AsTime().Sub(p.Start.AsTime()))))
	}
	return strings.Join(out, " ")
}

// short abbreviates a container id the way crictl does.
func short(id string) string {
	if len(id) > 13 {
		return id[:13]
	}
	return id
}

// times shows how many deliveries a collapsed row stands for; nothing for
// one.
func times(n uint32) string {
	if n < 2 {
		return ""
	}
	return fmt.Sprintf("×%d", n)
}

func kv(k, v string) string {
	if v == "" {
		return ""
	}
	return k + "=" + v
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}
