package iptables

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestUndoOnTheHost changes each backend's real filter table the way a
// kubelet does, in chains of a name no one else uses, and checks that Undo
// removes exactly what was added: the new chains, the jumps into them, a
// second copy of an old rule and a new rule in an old chain, while the
// chain and rules that were there before the snapshot stay. Its rules
// match only 192.0.2.0/24 (TEST-NET-1), which no host talks to.
func TestUndoOnTheHost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing the host's iptables needs root")
	}
	ctx := context.Background()
	id := make([]byte, 3)
	rand.Read(id)
	prefix := "GLTEST" + hex.EncodeToString(id) + "-"
	owned := func(chain string) bool { return strings.HasPrefix(chain, prefix) }
	old, a, b := prefix+"OLD", prefix+"A", prefix+"B"
	for _, backend := range backends {
		t.Run(backend+" loses what was added and keeps what was there", func(t *testing.T) {
			if _, ok := Take(ctx)[backend]; !ok {
				t.Skipf("%s-save does not run here", backend)
			}
			src := "192.0.2.1/32"
			if strings.HasPrefix(backend, "ip6") {
				src = "2001:db8::1/128"
			}
			pristine := Take(ctx)
			t.Cleanup(func() {
				if err := Undo(ctx, pristine, owned); err != nil {
					t.Errorf("clean up: %v", err)
				}
			})
			restore(t, backend, ":"+old+" - [0:0]",
				"-A INPUT -s "+src+" -j "+old,
				"-A "+old+" -s "+src+" -j RETURN")
			before := Take(ctx)
			restore(t, backend, ":"+a+" - [0:0]", ":"+b+" - [0:0]",
				"-A INPUT -s "+src+" -j "+old,
				"-A INPUT -s "+src+" -j "+a,
				"-A "+a+" -s "+src+` -m comment --comment "graceline test, never matches" -j `+b,
				"-A "+b+" -j RETURN",
				"-A "+old+" -d "+src+" -j RETURN")

			left := Leftovers(Diff(before, Take(ctx), owned))
			for _, want := range []string{"chain " + a, "chain " + b, "rule -A INPUT -s " + src + " -j " + old, "rule -A " + old + " -d " + src + " -j RETURN"} {
				if !slices.ContainsFunc(left, func(l string) bool { return strings.HasSuffix(l, " "+want) }) {
					t.Errorf("leftovers do not list %q:\n  %s", want, strings.Join(left, "\n  "))
				}
			}
			if err := Undo(ctx, before, owned); err != nil {
				t.Fatalf("undo: %v", err)
			}
			if left := Leftovers(Diff(before, Take(ctx), owned)); len(left) > 0 {
				t.Errorf("left after undo:\n  %s", strings.Join(left, "\n  "))
			}
			if got := Leftovers(Diff(pristine, Take(ctx), owned)); len(got) != 3 {
				t.Errorf("what was there before the snapshot, want the old chain, its jump and its rule:\n  %s", strings.Join(got, "\n  "))
			}
		})
	}
}

// restore adds lines to backend's filter table.
func restore(t *testing.T, backend string, lines ...string) {
	t.Helper()
	cmd := exec.Command(backend+"-restore", "--noflush", "--wait")
	cmd.Stdin = strings.NewReader("*filter\n" + strings.Join(lines, "\n") + "\nCOMMIT\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s-restore: %v: %s", backend, err, out)
	}
}
