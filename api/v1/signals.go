package apiv1

import (
	"slices"
	"strconv"
)

// Linux's signal numbers and names, as the kernel events and
// container_inspected's signal sets name them. The table is written out
// rather than taken from x/sys/unix, so that readers on other systems (the
// CLI on a laptop) name signals the node's way.
var signalNames = [...]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
	9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
	16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU",
	23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO",
	30: "SIGPWR", 31: "SIGSYS",
}

// sigrtmin is the first real-time signal a program may use; glibc keeps
// 32 and 33 for itself.
const sigrtmin = 34

// SignalName names signal n: SIGTERM, SIGRTMIN+3, or SIG32 for a number
// without a name of its own.
func SignalName(n int32) string {
	switch {
	case n > 0 && int(n) < len(signalNames):
		return signalNames[n]
	case n == sigrtmin:
		return "SIGRTMIN"
	case n > sigrtmin && n <= 64:
		return "SIGRTMIN+" + strconv.Itoa(int(n-sigrtmin))
	}
	return "SIG" + strconv.Itoa(int(n))
}

// SignalSet names the signals of a mask as /proc/<pid>/status shows it
// (bit n-1 for signal n), in number order.
func SignalSet(mask uint64) []string {
	var out []string
	for n := int32(1); n <= 64; n++ {
		if mask&(1<<(n-1)) != 0 {
			out = append(out, SignalName(n))
		}
	}
	return out
}

// InSignalSet says whether signal n is in a set SignalSet named.
func InSignalSet(set []string, n int32) bool {
	return slices.Contains(set, SignalName(n))
}

// SignalNumber is the number of a signal SignalName names (SIGTERM,
// SIGRTMIN+3), and false for a name it does not give.
func SignalNumber(name string) (int32, bool) {
	for n := int32(1); n <= 64; n++ {
		if SignalName(n) == name {
			return n, true
		}
	}
	return 0, false
}
