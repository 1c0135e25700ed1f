package main

import (
	"net"
	"strings"
	"testing"

	"github.com/graceline/graceline/internal/cli"
	"github.com/graceline/graceline/internal/cli/clitest"
)

// bin is the agent, built once for these tests.
var bin string

func TestMain(m *testing.M) { clitest.Main(m, "graceline-agent", &bin) }

func TestBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// want are the words the one line on stderr must hold: the flag,
		// and what it accepts where that is a fixed set or a range.
		want []string
	}{
		{"An unknown flag is named.", []string{"--bogus"}, []string{"--bogus"}},
		{"A stray argument is named.", []string{"extra"}, []string{`"extra"`}},
		{"A duration that does not parse names its flag.", []string{"--relist-period", "soon"}, []string{"--relist-period"}},
		{"A relist period of zero, which would busy-loop, is refused with its bounds.", []string{"--relist-period", "0"}, []string{"--relist-period 0s", "at least 100ms", "at most 1m0s"}},
		{"A negative relist period is refused.", []string{"--relist-period=-1s"}, []string{"--relist-period -1s"}},
		{"A relist period above the maximum is refused.", []string{"--relist-period", "2h"}, []string{"--relist-period 2h0m0s"}},
		{"A safety relist period of zero is refused.", []string{"--safety-relist-period", "0"}, []string{"--safety-relist-period"}},
		{"An unknown log level lists the levels.", []string{"--log-level", "loud"}, []string{"--log-level", `"loud"`, "debug, info, warn or error"}},
		{"A collector without a token file names --token-file.", []string{"--collector", "collector:7070"}, []string{"--token-file"}},
		{"Signal 999 is refused with what is accepted.", []string{"--ebpf-signals", "999"}, []string{"--ebpf-signals 999", "1 to 63", "TERM"}},
		{"Signal 64 does not fit the probe.", []string{"--ebpf-signals", "TERM,64"}, []string{"--ebpf-signals 64"}},
		{"Signal 0 is refused.", []string{"--ebpf-signals", "0"}, []string{"--ebpf-signals 0"}},
		{"An unknown signal name is refused with what is accepted.", []string{"--ebpf-signals", "TERM,BOGUS"}, []string{"--ebpf-signals", `"BOGUS"`, "KILL"}},
		{"An unknown output lists the outputs.", []string{"--output", "file"}, []string{"--output", `"file"`, `"-"`, `"none"`}},
		{"No output at all is refused.", []string{"--output", "none"}, []string{"--output none", "--collector"}},
		{"A negative spool bound is refused.", []string{"--spool-max-bytes=-1"}, []string{"--spool-max-bytes -1"}},
		{"A spool bound below the spool's minimum is refused.", []string{"--spool-max-bytes", "100"}, []string{"--spool-max-bytes 100", "32768"}},
		{"A spool sync interval of zero is refused.", []string{"--spool-sync-interval", "0"}, []string{"--spool-sync-interval"}},
		{"A CRI timeout of zero is refused.", []string{"--cri-timeout", "0"}, []string{"--cri-timeout"}},
		{"An empty CRI endpoint is refused.", []string{"--cri-endpoint", ""}, []string{"--cri-endpoint not given"}},
		{"An empty node name is refused.", []string{"--node-name", ""}, []string{"--node-name not given"}},
		{"A metrics address without a port is refused.", []string{"--metrics-address", "localhost"}, []string{"--metrics-address"}},
		{"A negative stuck slack is refused.", []string{"--stuck-slack=-1s"}, []string{"--stuck-slack"}},
		{"Stuck reports without pause are refused.", []string{"--stuck-every", "0"}, []string{"--stuck-every"}},
		{"A negative settle time is refused.", []string{"--summary-settle=-1s"}, []string{"--summary-settle"}},
		{"A release poll period of zero is refused.", []string{"--release-poll-period", "0"}, []string{"--release-poll-period", "at most 1m0s"}},
		{"A release recheck period above its bound is refused.", []string{"--release-recheck-period", "2m"}, []string{"--release-recheck-period"}},
		{"A release give-up of zero is refused.", []string{"--release-give-up", "0"}, []string{"--release-give-up"}},
		{"A rate limit of zero is refused.", []string{"--ebpf-rate-limit", "0"}, []string{"--ebpf-rate-limit"}},
		{"A negative rate limit does not parse.", []string{"--ebpf-rate-limit=-5"}, []string{"--ebpf-rate-limit"}},
		{"A burst of zero is refused.", []string{"--ebpf-burst", "0"}, []string{"--ebpf-burst"}},
		{"An attribution window of zero is refused.", []string{"--ebpf-attribution-window", "0"}, []string{"--ebpf-attribution-window"}},
		{"A removed-container TTL of zero is refused.", []string{"--ebpf-removed-ttl", "0"}, []string{"--ebpf-removed-ttl"}},
		{"A host pid of zero is refused.", []string{"--host-pid", "0"}, []string{"--host-pid"}},
		{"A boolean flag given a word names the flag.", []string{"--ebpf=maybe"}, []string{"--ebpf"}},
		{"An unknown recording mode lists the modes.", []string{"--record", "everything"}, []string{"--record", `"everything"`, `"policy" or "all"`}},
		{"A negative history is refused.", []string{"--record-history=-1"}, []string{"--record-history -1"}},
		{"A history past its bound is refused with it.", []string{"--record-history", "1000"}, []string{"--record-history 1000", "at most 256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clitest.Run(t, bin, tt.args...)
			if r.Code != cli.ExitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", r.Code, cli.ExitUsage, r.Stderr)
			}
			lines := r.Lines()
			if len(lines) != 1 {
				t.Fatalf("stderr has %d lines, want one: %q", len(lines), r.Stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("stderr %q does not hold %q", lines[0], w)
				}
			}
		})
	}
}

// TestVersionIsStamped: --version prints the version the build stamped
// and exits 0, so that an operator can tell which build a node runs.
func TestVersionIsStamped(t *testing.T) { clitest.CheckVersion(t, bin, "graceline-agent") }

func TestHelpExitsZero(t *testing.T) {
	r := clitest.Run(t, bin, "--help")
	if r.Code != cli.ExitOK || !strings.Contains(r.Stdout, "--relist-period") || r.Stderr != "" {
		t.Errorf("exit %d, stdout %d bytes, stderr %q; want 0, the flags, nothing", r.Code, len(r.Stdout), r.Stderr)
	}
}

// TestFailureAfterStartExitsOne: a listener the agent cannot open is a
// failure of the environment, not of the command line. It ends the agent
// with status 1 and its error as the last line.
func TestFailureAfterStartExitsOne(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	r := clitest.Run(t, bin, "--ebpf=false", "--output", "-", "--cri-endpoint", "unix:///nonexistent/graceline-test.sock",
		"--metrics-address", taken.Addr().String())
	lines := r.Lines()
	if r.Code != cli.ExitFailure || len(lines) == 0 {
		t.Fatalf("exit %d, stderr %q; want 1 and the error", r.Code, r.Stderr)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "graceline-agent: ") || !strings.Contains(last, taken.Addr().String()) {
		t.Errorf("last line %q, want the agent's name and the address it could not listen on", last)
	}
}
