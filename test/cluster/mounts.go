package cluster

import (
	"os"
	"strings"
	"syscall"
)

// mountsUnder lists the mount points at or below dir, in mount order.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	return out
}

// unmountUnder lazily unmounts every mount at or below dir, newest first:
// the kubelet's volume mounts, then its root dir, which it bind-mounts onto
// itself to make it rshared.
func unmountUnder(dir string) {
	// A bind mount may be stacked more than once; go round until none is left.
	for range 5 {
		mounts := mountsUnder(dir)
		if len(mounts) == 0 {
			return
		}
		for i := len(mounts) - 1; i >= 0; i-- {
			syscall.Unmount(mounts[i], syscall.MNT_DETACH)
		}
	}
}
