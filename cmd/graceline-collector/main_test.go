package main

import (
	"net"
	"strings"
	"testing"

	"github.com/graceline/graceline/internal/cli"
	"github.com/graceline/graceline/internal/cli/clitest"
)

// bin is the collector, built once for these tests.
var bin string

func TestMain(m *testing.M) { clitest.Main(m, "graceline-collector", &bin) }

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		// want are the words the one line on stderr must hold: the flag,
		// and what it accepts where that is a fixed set or a range.
		want []string
	}{
		{"An unknown flag is named.", []string{"--data-dir", dir, "--bogus"}, []string{"--bogus"}},
		{"A stray argument is named.", []string{"--data-dir", dir, "extra"}, []string{`"extra"`}},
		{"A missing data directory names --data-dir.", nil, []string{"--data-dir not given"}},
		{"An unknown log level lists the levels.", []string{"--data-dir", dir, "--log-level", "loud"}, []string{"--log-level", `"loud"`, "debug, info, warn or error"}},
		{"An unknown Kubernetes mode lists the modes.", []string{"--data-dir", dir, "--kubernetes=maybe"}, []string{"--kubernetes", `"maybe"`, "on, off or auto"}},
		{"A retention that does not parse names its flag.", []string{"--data-dir", dir, "--retention", "forever"}, []string{"--retention"}},
		{"A retention of zero is refused.", []string{"--data-dir", dir, "--retention", "0"}, []string{"--retention 0s", "at least 1m0s"}},
		{"A negative retention is refused.", []string{"--data-dir", dir, "--retention=-1h"}, []string{"--retention -1h0m0s"}},
		{"A purge interval of zero is refused.", []string{"--data-dir", dir, "--purge-interval", "0"}, []string{"--purge-interval 0s", "at most 24h0m0s"}},
		{"A stuck-after of zero is refused.", []string{"--data-dir", dir, "--stuck-after", "0"}, []string{"--stuck-after 0s"}},
		{"A negative stuck-every is refused.", []string{"--data-dir", dir, "--stuck-every=-1s"}, []string{"--stuck-every -1s"}},
		{"A final summary wait of zero is refused.", []string{"--data-dir", dir, "--final-summary-wait", "0"}, []string{"--final-summary-wait 0s"}},
		{"A certificate without its key names --tls-key.", []string{"--data-dir", dir, "--tls-cert", "cert.pem"}, []string{"--tls-key not given"}},
		{"A key without its certificate names --tls-cert.", []string{"--data-dir", dir, "--tls-key", "key.pem"}, []string{"--tls-cert not given"}},
		{"A client CA without TLS names --tls-cert.", []string{"--data-dir", dir, "--tls-client-ca", "ca.pem"}, []string{"--tls-cert not given"}},
		{"A gRPC address without a port is refused.", []string{"--data-dir", dir, "--grpc-address", "localhost"}, []string{"--grpc-address", `"localhost"`}},
		{"An HTTP address without a host part is refused.", []string{"--data-dir", dir, "--http-address", "7071"}, []string{"--http-address", `"7071"`}},
		{"Too few connections are refused.", []string{"--data-dir", dir, "--max-connections", "2"}, []string{"--max-connections 2", "at least 16"}},
		{"No agent streams are refused.", []string{"--data-dir", dir, "--max-agent-streams", "0"}, []string{"--max-agent-streams 0", "at least 1"}},
		{"A batch record limit past the maximum is refused.", []string{"--data-dir", dir, "--max-batch-records", "1000000"}, []string{"--max-batch-records 1000000", "at most 100000"}},
		{"A clock skew of zero is refused.", []string{"--data-dir", dir, "--max-clock-skew", "0"}, []string{"--max-clock-skew 0s"}},
		{"A plain-text OTLP endpoint needs --otlp-insecure.", []string{"--data-dir", dir, "--otlp-endpoint", "http://jaeger:4318"}, []string{"--otlp-endpoint", "--otlp-insecure"}},
		{"An OTLP endpoint of another scheme is refused.", []string{"--data-dir", dir, "--otlp-endpoint", "ftp://jaeger:4317"}, []string{"--otlp-endpoint", "grpc, http or https"}},
		{"An OTLP header without a value is refused.", []string{"--data-dir", dir, "--otlp-endpoint", "grpc://jaeger:4317", "--otlp-header", "tenant"}, []string{"--otlp-header", "KEY=VALUE"}},
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
func TestVersionIsStamped(t *testing.T) { clitest.CheckVersion(t, bin, "graceline-collector") }

func TestHelpExitsZero(t *testing.T) {
	r := clitest.Run(t, bin, "--help")
	if r.Code != cli.ExitOK || !strings.Contains(r.Stdout, "--data-dir") || r.Stderr != "" {
		t.Errorf("exit %d, stdout %d bytes, stderr %q; want 0, the flags, nothing", r.Code, len(r.Stdout), r.Stderr)
	}
}

// TestFailureAfterStartExitsOne: a listener the collector cannot open is
// a failure of the environment, not of the command line. It ends the
// collector with status 1 and its error as the last line.
func TestFailureAfterStartExitsOne(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	r := clitest.Run(t, bin, "--data-dir", t.TempDir(), "--kubernetes", "off", "--grpc-address", taken.Addr().String(), "--http-address", "127.0.0.1:0")
	lines := r.Lines()
	if r.Code != cli.ExitFailure || len(lines) == 0 {
		t.Fatalf("exit %d, stderr %q; want 1 and the error", r.Code, r.Stderr)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "graceline-collector: ") || !strings.Contains(last, taken.Addr().String()) {
		t.Errorf("last line %q, want the collector's name and the address it could not listen on", last)
	}
}
