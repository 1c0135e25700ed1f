package summary

import (
	"fmt"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Outcomes a prediction may have: the verdicts a termination summary
// carries for a stop, or OutcomeUnknown.
const (
	OutcomeGraceful = apiv1.VerdictGraceful
	OutcomeKilled   = apiv1.VerdictKilled
	OutcomeUnknown  = "unknown"
)

// The signals the prediction names by number: the stop signal when the
// runtime names none, and the two a shell's background jobs ignore.
const (
	sigINT  = 2
	sigQUIT = 3
	sigTERM = 15
)

// workerAge is how long a shell's child must have run to count as its
// worker: a loop's short sleeps come and go between two reads, and must
// not make a prediction flap; a worker that the shell waits on runs for
// the container's life.
const workerAge = 2 * time.Second

// shells are the commands (comm) of the shells that run a container's
// script as PID 1.
var shells = map[string]bool{"sh": true, "ash": true, "bash": true, "dash": true, "ksh": true, "mksh": true, "zsh": true}

// Readiness is what a read of a running container found: its init and the
// init's direct children as /proc showed them at At, and the stop signal
// the runtime would send it.
type Readiness struct {
	StopSignal int32
	Init       *apiv1.Process
	Children   []*apiv1.Process
	At         time.Time
	// LastCause is the cause of the container's (or its workload's) last
	// termination, "" when none is known: a handler's speed shows only in
	// its history.
	LastCause string
}

// Predict says what a stop of the container would end in now, in the
// causes' own vocabulary, so that its termination's summary can be held
// against it. The init's disposition for the stop signal decides, read as
// the causes read it (Disposition): blocked, ignored or the default action
// of a PID namespace's init all end in SIGKILL. A handler ends well unless
// the init is a shell that waits on a foreground child, which gets no
// signal, or its last termination found the handler too slow.
func Predict(r Readiness) *apiv1.Prediction {
	n := StopSignalNumber(r.StopSignal)
	sig := apiv1.SignalName(n)
	if r.Init == nil {
		return &apiv1.Prediction{Outcome: OutcomeUnknown, Cause: apiv1.CauseUnknown,
			Advice: "the container's init process could not be read: nothing to predict from", Facts: []string{"no init process was read"}}
	}
	init := procName(r.Init.GetComm(), r.Init.GetPid())
	p := &apiv1.Prediction{Shell: shells[r.Init.GetComm()], Children: int32(len(settled(r)))}
	d := Disposition(r.Init, n)
	p.Facts = append(p.Facts, fmt.Sprintf("stop signal %s: %s takes it with the %s action (ignored=%s caught=%s blocked=%s)",
		sig, init, d, shortSet(r.Init.GetSigIgnored()), shortSet(r.Init.GetSigCaught()), shortSet(r.Init.GetSigBlocked())))
	if d == DispositionDefault && r.Init.GetNsPid() > 1 {
		// Not its PID namespace's init (the pod shares one, the pause's):
		// the kernel does not drop the signal, and its default action
		// ends the init.
		p.Facts = append(p.Facts, fmt.Sprintf("%s is pid %d of its PID namespace, not its init (the pod shares its process namespace): %s's default action ends it", init, r.Init.GetNsPid(), sig))
		p.Outcome, p.Cause = OutcomeGraceful, apiv1.CauseExitedOnStopSignal
		p.Advice = fmt.Sprintf("nothing to change: %s is not PID 1 of its namespace, so %s ends it; a handler would let it shut down cleanly", init, sig)
		return p
	}
	if c := dispositionCause(d); c != "" {
		p.Outcome, p.Cause, p.Advice = OutcomeKilled, c, signalAdvice(c, init, sig, "")
		return p
	}
	if w := foregroundWorker(r); w != nil {
		worker := procName(w.GetComm(), w.GetPid())
		p.Facts = append(p.Facts, fmt.Sprintf("%s is a shell waiting on %s, a foreground child that gets no signal of its own", init, worker))
		p.Outcome, p.Cause = OutcomeKilled, apiv1.CauseSignalNotForwarded
		p.Advice = signalAdvice(p.Cause, init, sig, worker)
		return p
	}
	if r.LastCause == apiv1.CauseHandlerTooSlow {
		p.Facts = append(p.Facts, "its last termination found the handler still running when the grace period ended")
		p.Outcome, p.Cause = OutcomeKilled, apiv1.CauseHandlerTooSlow
		p.Advice = fmt.Sprintf("%s's %s handler outlasted the grace period last time: make shutdown finish sooner, or raise terminationGracePeriodSeconds above what it needs", init, sig)
		return p
	}
	p.Outcome, p.Cause = OutcomeGraceful, apiv1.CauseExitedOnStopSignal
	p.Advice = fmt.Sprintf("nothing to change: %s handles %s; its shutdown must finish within the grace period", init, sig)
	return p
}

// PredictFrom judges a node's termination_readiness again with the cause
// of the last termination of the container's workload: the facts are the
// node's, the rule is Predict, so that the collector's prediction differs
// from the node's only by the history. A readiness without processes
// keeps its own prediction.
func PredictFrom(e *apiv1.Event, lastCause string) *apiv1.Prediction {
	procs := e.GetProcesses()
	if len(procs) == 0 {
		return e.GetPrediction()
	}
	return Predict(Readiness{StopSignal: e.GetSignal().GetNumber(), Init: procs[0], Children: procs[1:], At: e.GetTime().AsTime(), LastCause: lastCause})
}

// StopSignalNumber is the signal a stop sends to a container whose stop
// signal is n: n itself, or SIGTERM, the runtime's default, for 0 (the
// runtime named none).
func StopSignalNumber(n int32) int32 {
	if n == 0 {
		return sigTERM
	}
	return n
}

// foregroundWorker is a child of a shell init that the shell waits on in
// the foreground and that has run for workerAge: a shell runs its trap
// only once such a child ends, so the stop signal never reaches it. A
// non-interactive shell starts its background jobs with SIGINT and SIGQUIT
// ignored (POSIX), which tells them apart: a shell waiting on those with
// `wait` runs its trap at once.
func foregroundWorker(r Readiness) *apiv1.Process {
	if !shells[r.Init.GetComm()] {
		return nil
	}
	for _, c := range settled(r) {
		if !apiv1.InSignalSet(c.GetSigIgnored(), sigINT) || !apiv1.InSignalSet(c.GetSigIgnored(), sigQUIT) {
			return c
		}
	}
	return nil
}

// settled are the init's children that have run for workerAge at the read.
func settled(r Readiness) []*apiv1.Process {
	var out []*apiv1.Process
	for _, c := range r.Children {
		if c.GetStarted() != nil && r.At.Sub(c.GetStarted().AsTime()) >= workerAge {
			out = append(out, c)
		}
	}
	return out
}

// SameState says whether two predictions state the same thing, facts aside
// of what changes with every read: the agent emits a readiness only when
// its state changes.
func SameState(a, b *apiv1.Prediction) bool {
	return a.GetOutcome() == b.GetOutcome() && a.GetCause() == b.GetCause() && a.GetShell() == b.GetShell() &&
		(a.GetChildren() > 0) == (b.GetChildren() > 0) && a.GetAdvice() == b.GetAdvice()
}
