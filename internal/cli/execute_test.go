package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/graceline/graceline/internal/setting"
)

// testCommand has one subcommand, sub, whose Run returns the error runErr.
func testCommand(runErr error) *cobra.Command {
	root := &cobra.Command{Use: "tool"}
	var d time.Duration
	sub := &cobra.Command{
		Use:  "sub",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runErr },
	}
	sub.Flags().DurationVar(&d, "period", time.Second, "a period")
	root.AddCommand(sub)
	return root
}

func TestExecute(t *testing.T) {
	flags := Flags{"Observer.RelistPeriod": "relist-period"}
	tests := []struct {
		name     string
		args     []string
		runErr   error
		wantCode int
		wantErr  string
	}{
		{"Success exits 0 and prints nothing.", []string{"sub"}, nil, ExitOK, ""},
		{"Help exits 0.", []string{"sub", "--help"}, nil, ExitOK, ""},
		{"An unknown flag is a usage error.", []string{"sub", "--nope"}, nil, ExitUsage, "tool: unknown flag: --nope\n"},
		{"A value the flag's type cannot hold is a usage error.", []string{"sub", "--period", "soon"}, nil, ExitUsage, `--period`},
		{"A stray argument is a usage error.", []string{"sub", "extra"}, nil, ExitUsage, `unknown command "extra"`},
		{"An unknown command is a usage error.", []string{"bogus"}, nil, ExitUsage, `unknown command "bogus"`},
		{"A usage error from Run exits 2.", []string{"sub"}, Usagef("--mode %q: want a or b", "c"), ExitUsage, "tool: --mode \"c\": want a or b\n"},
		{"A setting error mapped to its flag exits 2 and names the flag.", []string{"sub"}, flags.Check(setting.In("Observer", setting.Invalid("RelistPeriod", time.Duration(0), "more than 0"))), ExitUsage, "tool: --relist-period 0s: want more than 0\n"},
		{"A failure in Run exits 1.", []string{"sub"}, errors.New("listen tcp :1: permission denied"), ExitFailure, "tool: listen tcp :1: permission denied\n"},
		{"What a command was asked to fail on exits 3.", []string{"sub"}, fmt.Errorf("check: %w", &FindingsError{Msg: "2 containers will be killed"}), ExitFindings, "tool: check: 2 containers will be killed\n"},
		{"A failure with a newline still prints one line.", []string{"sub"}, errors.New("first\nsecond"), ExitFailure, "tool: first\\nsecond\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := testCommand(tt.runErr)
			cmd.SetArgs(tt.args)
			cmd.SetOut(&bytes.Buffer{})
			var stderr bytes.Buffer
			if code := Execute(context.Background(), cmd, &stderr); code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) || (tt.wantErr == "") != (stderr.Len() == 0) {
				t.Errorf("stderr %q, want it to hold %q", stderr.String(), tt.wantErr)
			}
			if n := strings.Count(stderr.String(), "\n"); n > 1 {
				t.Errorf("stderr has %d lines, want at most one: %q", n, stderr.String())
			}
		})
	}
}
