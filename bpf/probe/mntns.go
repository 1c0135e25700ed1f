package probe

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MountNamespace returns the mount-namespace inode of pid. It reads the
// /proc link and opens nothing, so it never holds a namespace alive.
func MountNamespace(pid int) (uint32, error) {
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		return 0, fmt.Errorf("read mount namespace of pid %d: %w", pid, err)
	}
	// The link reads "mnt:[4026531841]".
	s := strings.TrimSuffix(strings.TrimPrefix(link, "mnt:["), "]")
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("parse mount namespace link %q of pid %d: %w", link, pid, err)
	}
	return uint32(n), nil
}
