package summary

import apiv1 "github.com/graceline/graceline/api/v1"

// Dispositions of a process for a signal, as its signal sets in /proc say.
// The same words name the kernel's action at a delivery (signal_delivered's
// disposition), where blocked does not occur.
const (
	DispositionDefault = "default"
	DispositionIgnored = "ignored"
	DispositionBlocked = "blocked"
	DispositionHandler = "handler"
)

// Disposition is what p does with signal n, read from its signal sets.
// Blocked comes first: the kernel never drops a blocked signal, whatever
// its action, and the process does not act on it until it unblocks it.
// It is the one reading of the sets that both the causes after a
// termination and the predictions before one use, so that the two agree.
func Disposition(p *apiv1.Process, n int32) string {
	switch {
	case apiv1.InSignalSet(p.GetSigBlocked(), n):
		return DispositionBlocked
	case apiv1.InSignalSet(p.GetSigIgnored(), n):
		return DispositionIgnored
	case apiv1.InSignalSet(p.GetSigCaught(), n):
		return DispositionHandler
	}
	return DispositionDefault
}

// dispositionCause is the cause of a SIGKILL that the init's disposition
// for the stop signal alone explains: the init is its PID namespace's
// init, whose default action the kernel drops. A handler explains nothing
// alone (it may be too slow, or leave a worker without the signal): "".
func dispositionCause(d string) string {
	switch d {
	case DispositionDefault:
		return apiv1.CausePID1NoHandler
	case DispositionIgnored:
		return apiv1.CauseSignalIgnored
	case DispositionBlocked:
		return apiv1.CauseSignalBlocked
	}
	return ""
}
