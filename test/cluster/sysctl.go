package cluster

import (
	"fmt"
	"os"
	"strings"
)

// kubeletSysctls are the kernel settings the kubelet's container manager
// rewrites at start (vm.overcommit_memory=1, kernel.panic=10,
// kernel.panic_on_oops=1, …) when protectKernelDefaults is off. They are
// saved before the kubelet starts and put back at teardown, so a test run
// leaves the host's kernel as it found it.
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// saveSysctls reads the current value of each of kubeletSysctls.
func saveSysctls() (map[string]string, error) {
	saved := map[string]string{}
	for _, k := range kubeletSysctls {
		b, err := os.ReadFile("/proc/sys/" + k)
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
