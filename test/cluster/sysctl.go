package cluster

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// nodeSysctls are the kernel settings the node's parts may rewrite: the
// kubelet's container manager at start (vm.overcommit_memory=1,
// kernel.panic=10, kernel.panic_on_oops=1, …) when protectKernelDefaults is
// off; the CNI bridge plugin, which turns on IP forwarding for its gateway;
// kube-proxy, which is told to leave conntrack and route_localnet alone and
// is watched all the same. They are saved before the node starts and put
// back at teardown, so a test run leaves the host's kernel as it found it.
var nodeSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
	"net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet",
	"net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_tcp_timeout_established",
	"net/netfilter/nf_conntrack_tcp_timeout_close_wait", "net/netfilter/nf_conntrack_tcp_be_liberal",
	"net/bridge/bridge-nf-call-iptables",
}

// optionalSysctls exist only once their module is loaded; one that is not
// there at start is not saved.
var optionalSysctls = []string{"net/netfilter/", "net/bridge/"}

// saveSysctls reads the current value of each of nodeSysctls.
func saveSysctls() (map[string]string, error) {
	saved := map[string]string{}
	for _, k := range nodeSysctls {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil && os.IsNotExist(err) && slices.ContainsFunc(optionalSysctls, func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read sysctl %s: %w", k, err)
		}
		saved[k] = strings.TrimSpace(string(b))
	}
	return saved, nil
}

// restoreSysctls writes back the saved values that differ now.
func restoreSysctls(saved map[string]string) error {
	var errs []string
	for k, v := range saved {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err == nil && strings.TrimSpace(string(b)) == v {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", k, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("restore sysctls: %s", strings.Join(errs, "; "))
	}
	return nil
}

// changedSysctls lists the settings that differ from the saved values.
func changedSysctls(saved map[string]string) []string {
	var out []string
	for k, v := range saved {
		b, err := os.ReadFile("/proc/sys/" + k)
		if now := strings.TrimSpace(string(b)); err != nil || now != v {
			out = append(out, fmt.Sprintf("sysctl %s is %q, was %q", k, now, v))
		}
	}
	return out
}
