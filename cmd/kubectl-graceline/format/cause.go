package format

import (
	"strings"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Causes lists a summary's causes in one cell, container=cause each:
// "main=signal_ignored sidecar=exited_on_stop_signal"; "" when it has none.
func Causes(s *apiv1.Event) string {
	var out []string
	for _, c := range s.GetCauses() {
		out = append(out, c.GetContainer().GetName()+"="+c.GetCause())
	}
	return strings.Join(out, " ")
}

// CauseLines is the block a timeline shows under its verdict, for each
// container: the cause and what it means, the facts when the cause is
// unknown (they are all there is), the advice, and what the check had
// predicted when that was another cause.
//
//	CAUSE   main  signal_ignored: the stop signal is ignored
//	  TRY   sh (pid 4242) ignores SIGTERM (…): handle it and shut down instead
func CauseLines(s *apiv1.Event) []string {
	var out []string
	for _, c := range s.GetCauses() {
		line := "CAUSE   " + c.GetContainer().GetName() + "  " + c.GetCause()
		if info, ok := apiv1.LookupCause(c.GetCause()); ok {
			line += ": " + info.Title
		}
		out = append(out, line)
		if c.GetCause() == apiv1.CauseUnknown {
			for _, f := range c.GetFacts() {
				out = append(out, "  FACT  - "+f)
			}
		}
		if c.GetAdvice() != "" {
			out = append(out, "  TRY   "+c.GetAdvice())
		}
		if p := c.GetPredicted(); p != "" && p != c.GetCause() {
			out = append(out, "  MISS  `kubectl graceline check` predicted "+p)
		}
	}
	return out
}
