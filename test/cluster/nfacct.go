package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// kube-proxy's iptables rules count packets in netfilter accounting objects
// (ct_state_invalid_dropped_pkts, localhost_nps_accepted_pkts), which it
// makes and never removes; they outlive its chains. They are read with
// Debian's nfacct before the node starts, and those made since are deleted
// at teardown, after the rules that use them.

// nfacctObjects lists the accounting objects' names; ok is false when
// nfacct cannot read them (not installed, or no nfnetlink_acct).
func nfacctObjects(ctx context.Context) (names []string, ok bool) {
	out, err := exec.CommandContext(ctx, "nfacct", "list").Output()
	if err != nil {
		return nil, false
	}
	// Each line reads "{ pkts = N, bytes = N } = NAME;".
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.LastIndex(line, "} = "); i >= 0 {
			names = append(names, strings.TrimSuffix(strings.TrimSpace(line[i+4:]), ";"))
		}
	}
	return names, true
}

// newNfacctObjects lists the objects that are there now and were not in
// before.
func newNfacctObjects(ctx context.Context, before []string) []string {
	now, ok := nfacctObjects(ctx)
	if !ok {
		return nil
	}
	var out []string
	for _, n := range now {
		if !slices.Contains(before, n) {
			out = append(out, n)
		}
	}
	return out
}

// removeNfacctObjects deletes the objects made since before.
func removeNfacctObjects(ctx context.Context, before []string) error {
	var errs []string
	for _, n := range newNfacctObjects(ctx, before) {
		if out, err := exec.CommandContext(ctx, "nfacct", "delete", n).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v: %s", n, err, strings.TrimSpace(string(out))))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("delete nfacct objects: %s", strings.Join(errs, "; "))
	}
	return nil
}
