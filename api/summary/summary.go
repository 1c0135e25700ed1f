package summary

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Fill sets the node's side of a termination_summary on s: its phases,
// killed flag, verdict, exit codes, each container's cause and, once it
// began, since. The caller
// names the pod and the node and sets the summary's time.
func (t *Termination) Fill(s *apiv1.Event) {
	killed := t.Killed()
	s.Phases, s.Killed, s.Verdict, s.ExitCodes = t.Phases(), &killed, t.Verdict(), t.ExitCodes()
	s.Causes = t.Causes()
	if !t.start.IsZero() {
		s.Since = timestamppb.New(t.start)
	}
	if oom := t.OOMEvidence(); len(oom) > 0 {
		yes := true
		s.OomKilled = &yes
		// Clipped, so that appending never writes into the caller's notes.
		s.Evidence = append(slices.Clip(s.Evidence), oom...)
	}
}

// OOMEvidence says, one line per container in name order, which of the
// pod's containers were OOM-killed, with the victim and the memory where
// the kernel told them.
func (t *Termination) OOMEvidence() []string {
	var out []string
	for _, c := range t.containers {
		if c.OOM == nil {
			continue
		}
		line := fmt.Sprintf("container %s was killed by the OOM killer", c.Name)
		if v := c.OOM.Victim; v != nil {
			line += fmt.Sprintf(": %s (pid %d)", v.GetComm(), v.GetPid())
		}
		line += memoryText(c.OOM.Memory)
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

// memoryText shows a memory cgroup's limit and peak (or, without a peak,
// its usage) in parentheses; "" when it tells neither.
func memoryText(m *apiv1.Memory) string {
	if m == nil {
		return ""
	}
	var parts []string
	if m.LimitBytes != nil {
		parts = append(parts, "limit "+mib(*m.LimitBytes))
	}
	if m.PeakBytes != nil {
		parts = append(parts, "peak "+mib(*m.PeakBytes))
	} else if m.UsageBytes != nil {
		parts = append(parts, "usage "+mib(*m.UsageBytes))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// mib shows a byte count in MiB, the unit memory limits are set in.
func mib(n uint64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', -1, 64) + " MiB"
}

// Verdict is stuck while a stuck report is the latest news of the pod,
// killed when the runtime had to send SIGKILL, graceful once the sandbox
// stopped without it (for a container's own termination: once it exited),
// and empty while the pod is still being stopped.
func (t *Termination) Verdict() string {
	switch {
	case !t.lastStuck.IsZero() && !t.lastStuck.Before(t.lastProgress):
		return apiv1.VerdictStuck
	case t.Killed():
		return apiv1.VerdictKilled
	case t.containerScope && t.allExited():
		return apiv1.VerdictGraceful
	case !t.sandboxStop.IsZero() || !t.sandboxGone.IsZero():
		return apiv1.VerdictGraceful
	}
	return ""
}

// Phases lists the phases that happened, each with its start and end, in
// the order they started. A phase missing either end is left out.
func (t *Termination) Phases() []*apiv1.Phase {
	var out []*apiv1.Phase
	add := func(name string, start, end time.Time) {
		if start.IsZero() || end.IsZero() || end.Before(start) {
			return
		}
		out = append(out, &apiv1.Phase{Name: name, Start: timestamppb.New(start), End: timestamppb.New(end)})
	}
	// A preStop hook whose end went unseen ends when the stop signal comes:
	// the kubelet sends it only once the hook returned or timed out.
	prestopEnd := t.prestopEnd
	if prestopEnd.IsZero() {
		prestopEnd = t.stopSignalAt
	}
	add(apiv1.PhasePreStop, t.prestopStart, prestopEnd)
	lastExit := t.lastExit()
	add(apiv1.PhaseStopSignal, t.stopSignalAt, lastExit)
	add(apiv1.PhaseSIGKILL, t.sigkillAt, lastExit)
	teardownStart := lastExit
	for _, c := range t.containers {
		if c.StoppedAt.After(teardownStart) {
			teardownStart = c.StoppedAt
		}
	}
	add(apiv1.PhaseSandboxTeardown, teardownStart, t.sandboxStop)
	add(apiv1.PhaseResourceRelease, t.sandboxStop, t.lastRelease)
	add(apiv1.PhaseRemoval, t.firstRemoval, t.sandboxGone)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.AsTime().Before(out[j].Start.AsTime()) })
	return out
}

// ExitCodes maps each container's name to its init process's exit code,
// for the containers whose exit was seen.
func (t *Termination) ExitCodes() map[string]int32 {
	out := map[string]int32{}
	for _, c := range t.containers {
		if c.ExitCode != nil {
			out[c.Name] = *c.ExitCode
		}
	}
	return out
}
