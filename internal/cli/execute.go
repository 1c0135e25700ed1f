package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Execute runs cmd on the process's arguments and returns its exit status:
// ExitOK, ExitUsage for a bad command line, ExitFindings for what a command
// was asked to fail on, or ExitFailure for a failure
// once the command has started. Any error is printed as one line on
// stderr, prefixed with the command's name; cobra's own messages and usage
// dumps are silenced so that the line stays alone.
func Execute(ctx context.Context, cmd *cobra.Command, stderr io.Writer) int {
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	// Every error cobra returns before a command's Run starts (an unknown
	// flag or command, a value its type cannot hold, a wrong number of
	// arguments) is a usage error, but cobra does not type them; so the
	// start of each Run is marked instead.
	started := false
	markStart(cmd, &started)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "%s: %s\n", cmd.Name(), Escape(err.Error()))
	var usage *UsageError
	if errors.As(err, &usage) || !started {
		return ExitUsage
	}
	var findings *FindingsError
	if errors.As(err, &findings) {
		return ExitFindings
	}
	return ExitFailure
}

// markStart wraps the Run of cmd and of every subcommand so that it sets
// started first.
func markStart(cmd *cobra.Command, started *bool) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			*started = true
			return run(c, args)
		}
	}
	if run := cmd.Run; run != nil {
		cmd.Run = func(c *cobra.Command, args []string) {
			*started = true
			run(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		markStart(sub, started)
	}
}
