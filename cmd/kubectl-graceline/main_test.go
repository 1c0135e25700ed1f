package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graceline/graceline/internal/cli"
	"github.com/graceline/graceline/internal/cli/clitest"
)

// bin is kubectl-graceline, built once for these tests.
var bin string

func TestMain(m *testing.M) { clitest.Main(m, "kubectl-graceline", &bin) }

func TestBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// want are the words the one line on stderr must hold: the flag,
		// and what it accepts where that is a fixed set.
		want []string
	}{
		{"An unknown flag is named.", []string{"list", "--bogus"}, []string{"--bogus"}},
		{"An unknown command is named.", []string{"bogus"}, []string{`"bogus"`}},
		{"An unknown output format of list lists the formats.", []string{"list", "-o", "xml"}, []string{"--output", `"xml"`, "custom-columns=…", "jsonl"}},
		{"An unknown output format of timeline lists the formats.", []string{"timeline", "shop/web", "-o", "wide"}, []string{"--output", "table or json"}},
		{"An unknown output format of stuck lists the formats.", []string{"stuck", "-o", "xml"}, []string{"--output", "yaml", "jsonpath=…"}},
		{"An unknown output format of watch lists the formats.", []string{"watch", "-o", "wide"}, []string{"--output", "table or json"}},
		{"A since that does not parse names --since.", []string{"list", "--since", "yesterday"}, []string{"--since"}},
		{"A negative since is refused.", []string{"list", "--since=-1h"}, []string{"--since -1h0m0s"}},
		{"An unknown verdict lists the verdicts.", []string{"list", "--verdict", "maybe"}, []string{"--verdict", `"maybe"`, "graceful, killed or stuck"}},
		{"A limit of zero is refused.", []string{"list", "--limit", "0"}, []string{"--limit 0"}},
		{"A limit that does not parse names --limit.", []string{"list", "--limit", "many"}, []string{"--limit"}},
		{"A timeline without a pod says what it takes.", []string{"timeline"}, []string{"1 arg"}},
		{"A pod name with two slashes is refused.", []string{"timeline", "a/b/c"}, []string{`"a/b/c"`, "NAMESPACE/NAME"}},
		{"No token for a collector names the flags that give one.", []string{"list", "--collector", "127.0.0.1:1"}, []string{"--token", "--token-file"}},
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
func TestVersionIsStamped(t *testing.T) { clitest.CheckVersion(t, bin, "kubectl-graceline") }

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"list", "--help"}} {
		r := clitest.Run(t, bin, args...)
		if r.Code != cli.ExitOK || r.Stdout == "" || r.Stderr != "" {
			t.Errorf("%v: exit %d, stdout %d bytes, stderr %q; want 0, the help, nothing", args, r.Code, len(r.Stdout), r.Stderr)
		}
	}
}

// TestUnreachableCollectorExitsOne: a collector that cannot be reached is
// not the command line's fault: one line, status 1.
func TestUnreachableCollectorExitsOne(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := clitest.Run(t, bin, "list", "-A", "--token", "x", "--collector", addr)
	if lines := r.Lines(); r.Code != cli.ExitFailure || len(lines) != 1 || !strings.Contains(lines[0], addr) {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming %s", r.Code, r.Stderr, addr)
	}
}

// TestKubeconfigErrors: a kubeconfig or context that cannot be used ends
// the command with one line that names it, whether the query would go
// through the API server or to a collector, so that a query never goes
// quietly to another cluster than the one named.
func TestKubeconfigErrors(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	const config = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: real, context: {cluster: c, user: u, namespace: shop}}]
current-context: real
`
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"A context the kubeconfig lacks is named.", []string{"list", "--kubeconfig", kubeconfig, "--context", "nope"}, `"nope"`},
		{"A context the kubeconfig lacks is named for timeline.", []string{"timeline", "web", "--kubeconfig", kubeconfig, "--context", "nope"}, `"nope"`},
		{"A context the kubeconfig lacks is named for watch.", []string{"watch", "-A", "--kubeconfig", kubeconfig, "--context", "nope"}, `"nope"`},
		{"A context the kubeconfig lacks is named even with a namespace.", []string{"stuck", "-n", "x", "--kubeconfig", kubeconfig, "--context", "nope"}, `"nope"`},
		{"A context the kubeconfig lacks is named with a collector too.", []string{"list", "--collector", "127.0.0.1:1", "--token", "x", "--kubeconfig", kubeconfig, "--context", "nope"}, `"nope"`},
		{"A kubeconfig that cannot be read is named.", []string{"list", "--kubeconfig", kubeconfig + ".absent"}, kubeconfig + ".absent"},
		{"No kubeconfig at all is said, with the way out.", []string{"list"}, "--collector"},
		{"An API server that cannot be reached is named.", []string{"list", "--kubeconfig", kubeconfig}, "127.0.0.1:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := clitest.Run(t, bin, tt.args...)
			lines := r.Lines()
			if r.Code != cli.ExitFailure || len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and one line naming %s", r.Code, r.Stderr, tt.want)
			}
		})
	}
}

// TestUsageSaysKubectlGraceline: the usage lines name the command as a
// kubectl user types it.
func TestUsageSaysKubectlGraceline(t *testing.T) {
	r := clitest.Run(t, bin, "list", "--help")
	if !strings.Contains(r.Stdout, "kubectl graceline list [flags]") {
		t.Errorf("help of list:\n%s\nwant the usage line %q", r.Stdout, "kubectl graceline list [flags]")
	}
}
