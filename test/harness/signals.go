package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// HandlesSignal reports whether pid catches or ignores sig, from the
// SigCgt and SigIgn masks of /proc/<pid>/status. Tests wait for it before
// they delete a pod: a PID namespace's init drops a signal it has no
// handler for, so a SIGTERM sent before the workload set its trap is lost.
// Until it execs the workload, the init is runc's own (runc:[2:INIT]), whose
// Go runtime catches every signal; that is not the workload's handler.
func HandlesSignal(pid int32, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "Name" && strings.HasPrefix(strings.TrimSpace(v), "runc:[") {
			return false
		}
		if k == "SigCgt" || k == "SigIgn" {
			mask, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if mask&(1<<(uint(sig)-1)) != 0 {
				return true
			}
		}
	}
	return false
}
