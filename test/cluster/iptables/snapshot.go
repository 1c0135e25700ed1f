// Package iptables records the host's packet-filter rules before the test
// bed starts, and finds and undoes what was added to them since. The
// kubelet makes KUBE-FIREWALL (with a DROP rule for non-loopback sources
// to 127.0.0.0/8), KUBE-KUBELET-CANARY and KUBE-IPTABLES-HINT in the filter,
// nat and mangle tables of IPv4 and IPv6, and never removes them; kube-proxy
// makes many more KUBE-* chains. A test run must leave none of them.
//
// Every backend is read: the kubelet writes through whichever iptables the
// host's alternatives name (nf_tables on Debian 12 unless switched), and a
// host may hold legacy tables beside them.
package iptables

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// backends are the families and kernel interfaces whose rules a snapshot
// holds; NAME-save prints them and NAME-restore changes them.
var backends = []string{"iptables-legacy", "iptables-nft", "ip6tables-legacy", "ip6tables-nft"}

// Snapshot is the rules of every backend that could be read, by backend.
type Snapshot map[string]ruleset

// ruleset is one backend's tables, by name.
type ruleset map[string]*table

// table is one table's user-defined chains and its rules, as "-A CHAIN …"
// lines in iptables-save's order.
type table struct {
	chains []string
	rules  []string
}

// Take reads every backend. A backend whose save command fails (not
// installed, or its kernel interface missing) is left out, and compared by
// no one: what cannot be read cannot have been changed through it either.
func Take(ctx context.Context) Snapshot {
	s := Snapshot{}
	for _, b := range backends {
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, b+"-save")
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			continue
		}
		s[b] = parse(out.String())
	}
	return s
}

// parse reads iptables-save's output: "*table" opens a table, ":CHAIN
// POLICY [counters]" declares a chain (POLICY is "-" for a user-defined
// one), "-A CHAIN …" is a rule, and "COMMIT" closes the table.
func parse(text string) ruleset {
	rs := ruleset{}
	var cur *table
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "*"):
			cur = &table{}
			rs[line[1:]] = cur
		case cur == nil:
		case strings.HasPrefix(line, ":"):
			if f := strings.Fields(line[1:]); len(f) >= 2 && f[1] == "-" {
				cur.chains = append(cur.chains, f[0])
			}
		case strings.HasPrefix(line, "-A "):
			cur.rules = append(cur.rules, line)
		}
	}
	return rs
}

// ruleChains returns the chain a rule is in and the chain it jumps or goes
// to, if any.
func ruleChains(rule string) (chain, target string) {
	f := strings.Fields(rule)
	if len(f) >= 2 {
		chain = f[1]
	}
	for i := 2; i+1 < len(f); i++ {
		switch f[i] {
		case "-j", "--jump", "-g", "--goto":
			target = f[i+1]
		}
	}
	return chain, target
}

// where names a backend's table in messages.
func where(backend, table string) string { return fmt.Sprintf("%s %s", backend, table) }
