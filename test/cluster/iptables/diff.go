package iptables

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
)

// Owned says which chains a comparison looks at: the ones the test bed's
// components make. Rules in such a chain, or jumping to one, are its too.
type Owned func(chain string) bool

// Kubernetes owns the chains the kubelet and kube-proxy make, all named
// KUBE-*.
func Kubernetes(chain string) bool { return strings.HasPrefix(chain, "KUBE-") }

// Added is what one table gained since a snapshot, in owned chains only.
type Added struct {
	Backend, Table string
	// Chains are user-defined chains that were not there before.
	Chains []string
	// Rules are "-A CHAIN …" lines beyond the number of copies there were
	// before, in iptables-save's order.
	Rules []string
}

// Diff lists what now holds and before did not, table by table, for the
// backends read both times.
func Diff(before, now Snapshot, owned Owned) []Added {
	var out []Added
	for _, b := range slices.Sorted(maps.Keys(now)) {
		old, ok := before[b]
		if !ok {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(now[b])) {
			a := diffTable(old[name], now[b][name], owned)
			if len(a.Chains)+len(a.Rules) > 0 {
				a.Backend, a.Table = b, name
				out = append(out, a)
			}
		}
	}
	return out
}

// diffTable compares one table; old is nil for a table that was not there.
func diffTable(old, now *table, owned Owned) Added {
	if old == nil {
		old = &table{}
	}
	var a Added
	for _, c := range now.chains {
		if owned(c) && !slices.Contains(old.chains, c) {
			a.Chains = append(a.Chains, c)
		}
	}
	// Rules are counted, not only looked up: a second copy of a rule that
	// was there before is new, and the first copy is not.
	had := map[string]int{}
	for _, r := range old.rules {
		had[r]++
	}
	for _, r := range now.rules {
		chain, target := ruleChains(r)
		if !owned(chain) && !owned(target) {
			continue
		}
		if had[r] > 0 {
			had[r]--
			continue
		}
		a.Rules = append(a.Rules, r)
	}
	return a
}

// Leftovers describes each added chain and rule on a line of its own.
func Leftovers(added []Added) []string {
	var out []string
	for _, a := range added {
		for _, c := range a.Chains {
			out = append(out, fmt.Sprintf("%s chain %s", where(a.Backend, a.Table), c))
		}
		for _, r := range a.Rules {
			out = append(out, fmt.Sprintf("%s rule %s", where(a.Backend, a.Table), r))
		}
	}
	return out
}

// undoScript is the iptables-restore --noflush input that removes what a
// table gained: the added rules of chains that stay, last first, then the
// added chains, flushed together before any is deleted since they may jump
// to each other. Nothing that was there before is named in it.
func undoScript(a Added) string {
	var b strings.Builder
	b.WriteString("*" + a.Table + "\n")
	for i := len(a.Rules) - 1; i >= 0; i-- {
		if chain, _ := ruleChains(a.Rules[i]); slices.Contains(a.Chains, chain) {
			continue
		}
		b.WriteString("-D" + strings.TrimPrefix(a.Rules[i], "-A") + "\n")
	}
	for _, c := range a.Chains {
		b.WriteString("-F " + c + "\n")
	}
	for _, c := range a.Chains {
		b.WriteString("-X " + c + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// Undo removes the owned chains and rules added since before, one table at
// a time (each in one transaction), and returns every failure.
func Undo(ctx context.Context, before Snapshot, owned Owned) error {
	var errs []error
	for _, a := range Diff(before, Take(ctx), owned) {
		cmd := exec.CommandContext(ctx, a.Backend+"-restore", "--noflush", "--wait")
		cmd.Stdin = strings.NewReader(undoScript(a))
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("remove %s chains %v and %d rules: %w: %s", where(a.Backend, a.Table), a.Chains, len(a.Rules), err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}
