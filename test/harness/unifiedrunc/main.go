// Command unifiedrunc runs runc for a unified (cgroup v2) runtime on a host
// whose controllers are bound to v1 hierarchies (harness.Containerd2Unified).
// Before runc creates a container, it removes from the bundle's OCI spec
// the resource settings of controllers the unified hierarchy lacks here
// (the CRI plugin gives every sandbox CPU shares, which runc would write to
// a cpu.weight that does not exist), and then runs the real runc with the
// same arguments. Everything else about the container is runc's own.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// controllerOf names the cgroup v2 controller each OCI resource setting
// needs.
var controllerOf = map[string]string{
	"cpu": "cpu", "memory": "memory", "pids": "pids", "blockIO": "io", "hugepageLimits": "hugetlb", "rdma": "rdma",
}

func main() {
	runc, err := exec.LookPath("runc")
	if err != nil {
		fail(err)
	}
	args := os.Args[1:]
	if bundle := bundleOf(args); bundle != "" {
		if err := trim(filepath.Join(bundle, "config.json")); err != nil {
			fail(err)
		}
	}
	fail(syscall.Exec(runc, append([]string{"runc"}, args...), os.Environ()))
}

// bundleOf returns the bundle of a create or run command, or "".
func bundleOf(args []string) string {
	if !slices.Contains(args, "create") && !slices.Contains(args, "run") {
		return ""
	}
	for i, a := range args {
		switch {
		case (a == "--bundle" || a == "-b") && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "--bundle="):
			return strings.TrimPrefix(a, "--bundle=")
		}
	}
	return ""
}

// trim removes the settings of unavailable controllers from the spec at
// path.
func trim(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	have, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		return err
	}
	available := strings.Fields(string(have))
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	linux, _ := spec["linux"].(map[string]any)
	resources, _ := linux["resources"].(map[string]any)
	for setting, controller := range controllerOf {
		if !slices.Contains(available, controller) {
			delete(resources, setting)
		}
	}
	if b, err = json.Marshal(spec); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "unifiedrunc:", err)
	os.Exit(1)
}
