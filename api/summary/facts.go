package summary

import (
	"fmt"
	"strings"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// maxListed bounds how many of the container's other processes its facts
// name.
const maxListed = 3

// facts says, in the order they happened, what the cause was read from:
// the stop signal and the kernel's result, its delivery, the processes as
// read at the stop, the SIGKILL, the OOM kill and the exit. Every line is
// made of the events' own values, so both sides write the same lines.
func (c *Container) facts(v causeVerdict) []string {
	s := &c.stop
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	init := c.initName()
	if s.signal != nil {
		add("stop signal %s from %s to %s: result %s", signalName(s.signal), senderName(s.sender), init, orDash(s.signal.GetResult()))
		switch {
		case s.disposition != "":
			add("%s delivered to %s %s later with the %s action", signalName(s.signal), init, since(s.signalAt, s.deliveredAt), s.disposition)
		case s.signal.GetResult() != "ignored" && !c.KilledAt.IsZero():
			add("%s never delivered to %s before SIGKILL", signalName(s.signal), init)
		}
	}
	if in := s.inspected; in != nil {
		if in.GetFrozen() {
			add("its cgroup was frozen at the stop")
		}
		listed := 0
		for _, p := range in.GetProcesses() {
			if p.GetPid() != c.Pid && listed == maxListed {
				continue
			}
			if p.GetPid() != c.Pid {
				listed++
			}
			add("at the stop: %s", c.describe(p))
		}
	} else if s.signal != nil && !c.KilledAt.IsZero() {
		add("its processes were not read at the stop")
	}
	if v.worker != nil {
		add("%s ran since before the stop signal and got no signal before SIGKILL", procName(v.worker.GetComm(), v.worker.GetPid()))
	}
	switch {
	case !c.KilledAt.IsZero() && s.signal != nil:
		add("SIGKILL from %s %s after the stop signal", senderName(s.killer), since(s.signalAt, c.KilledAt))
	case !c.KilledAt.IsZero():
		add("SIGKILL from %s with no stop signal before it", senderName(s.killer))
	}
	if s.kernelKill != nil {
		add("SIGKILL from the kernel, sent as %s ran", procName(s.kernelKill.GetComm(), s.kernelKill.GetPid()))
	}
	if c.OOM != nil {
		add("%s", c.oomLine())
	}
	if e := s.initExit; e != nil {
		add("%s exited%s", init, exitText(e.ExitCode, e.ExitSignal))
	}
	if c.ExitCode != nil {
		add("container exit code %d", *c.ExitCode)
	}
	if v.why != "" {
		add("%s", v.why)
	}
	return out
}

// describe renders a process as the inspection read it.
func (c *Container) describe(p *apiv1.Process) string {
	d := procName(p.GetComm(), p.GetPid())
	if p.GetPid() == c.Pid {
		d += " (init)"
	} else {
		d += fmt.Sprintf(" (parent %d", p.GetPpid())
		if st := p.GetStarted(); st != nil && !c.stop.signalAt.IsZero() {
			at := st.AsTime()
			if at.Before(c.stop.signalAt) {
				d += ", started " + c.stop.signalAt.Sub(at).Round(time.Millisecond).String() + " before the stop signal"
			} else {
				d += ", started " + at.Sub(c.stop.signalAt).Round(time.Millisecond).String() + " after it"
			}
		}
		d += ")"
	}
	if p.GetState() != "" {
		d += " state " + p.GetState()
	}
	return d + fmt.Sprintf(" ignored=%s caught=%s blocked=%s pending=%s",
		shortSet(p.GetSigIgnored()), shortSet(p.GetSigCaught()), shortSet(p.GetSigBlocked()), shortSet(p.GetSigPending()))
}

// initName names the container's init process by its command and pid, from
// whichever event named its command.
func (c *Container) initName() string {
	comm := c.stop.comm
	if comm == "" {
		comm = c.stop.initExit.GetProcess().GetComm()
	}
	if p := c.initProcess(); comm == "" && p != nil {
		comm = p.GetComm()
	}
	if comm == "" {
		comm = "init"
	}
	if c.Pid == 0 {
		return comm
	}
	return procName(comm, c.Pid)
}

// oomLine says what the OOM killer killed, with the memory where known.
func (c *Container) oomLine() string {
	line := "the OOM killer killed a process of the container"
	if v := c.OOM.Victim; v != nil {
		line = "the OOM killer killed " + procName(v.GetComm(), v.GetPid())
	}
	return line + memoryText(c.OOM.Memory)
}

func procName(comm string, pid int32) string { return fmt.Sprintf("%s (pid %d)", comm, pid) }

func senderName(s *apiv1.Sender) string {
	if s == nil {
		return "the runtime"
	}
	return procName(s.GetComm(), s.GetPid())
}

func signalName(s *apiv1.Signal) string {
	if s.GetName() != "" {
		return s.GetName()
	}
	return apiv1.SignalName(s.GetNumber())
}

// since is the time from a to b, to the millisecond, or to the
// microsecond under one.
func since(a, b time.Time) string {
	if d := b.Sub(a); d < time.Millisecond && d > -time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return b.Sub(a).Round(time.Millisecond).String()
}

// shortSet shows a signal set as /proc readers know it: TERM,CHLD; "-" for
// none.
func shortSet(set []string) string {
	if len(set) == 0 {
		return "-"
	}
	out := make([]string, len(set))
	for i, s := range set {
		out[i] = strings.TrimPrefix(s, "SIG")
	}
	return strings.Join(out, ",")
}

func exitText(code, sig *int32) string {
	var parts []string
	if sig != nil && *sig != 0 {
		parts = append(parts, "by signal "+strings.TrimPrefix(apiv1.SignalName(*sig), "SIG"))
	}
	if code != nil && (*code != 0 || len(parts) == 0) {
		parts = append(parts, fmt.Sprintf("with code %d", *code))
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
