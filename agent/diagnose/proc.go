package diagnose

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graceline/graceline/internal/procstat"
)

// procState is what /proc says about one process.
type procState struct {
	pid   int
	ppid  int
	comm  string
	state string // R, S, D, T, Z, ...
	wchan string
	stack []string
	sigs  map[string]uint64 // SigPnd, ShdPnd, SigBlk, SigIgn, SigCgt
	// nsPid is its pid in its own PID namespace (NSpid's last field), 0
	// when not read.
	nsPid int
	// start is when it started, since boot.
	start time.Duration
}

var stateNames = map[string]string{
	"R": "running", "S": "sleeping", "D": "uninterruptible sleep", "T": "stopped", "t": "traced",
	"Z": "zombie", "X": "dead", "I": "idle",
}

// readProc reads a process's state. Each file is opened, read and closed.
func readProc(pid int) (procState, error) {
	p, err := readStat(pid)
	if err != nil {
		return p, err
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid)); err == nil && string(b) != "0" {
		p.wchan = string(b)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stack", pid)); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(line); len(f) > 1 && len(p.stack) < 4 {
				p.stack = append(p.stack, f[1])
			}
		}
	}
	readStatus(&p)
	return p, nil
}

// procRoot is the node's /proc, which the readers below read unless told
// another (a test's fake).
const procRoot = "/proc"

// readStat reads a process's command, state, parent and start from
// /proc/<pid>/stat.
func readStat(pid int) (procState, error) { return readStatAt(procRoot, pid) }

// readStatAt is readStat below root rather than /proc.
func readStatAt(root string, pid int) (procState, error) {
	p := procState{pid: pid, sigs: map[string]uint64{}}
	stat, err := procstat.Read(root, pid)
	if err != nil {
		return p, err
	}
	p.comm, p.state, p.ppid, p.start = stat.Comm, stat.State, stat.PPid, stat.Start
	return p, nil
}

// readStatus reads a process's signal masks and its pid in its own PID
// namespace from /proc/<pid>/status into p; a process gone meanwhile
// leaves them empty.
func readStatus(p *procState) { readStatusAt(procRoot, p) }

// readStatusAt is readStatus below root rather than /proc.
func readStatusAt(root string, p *procState) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/status", root, p.pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		switch k {
		case "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt":
			if ok {
				p.sigs[k], _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			}
		case "NSpid":
			// One pid per namespace level, the outermost first.
			if f := strings.Fields(v); len(f) > 0 {
				p.nsPid, _ = strconv.Atoi(f[len(f)-1])
			}
		}
	}
}

// signalSet names the signals of a /proc/<pid>/status mask that matter for
// a termination, or "-" for none of them.
func signalSet(mask uint64) string {
	var names []string
	for _, s := range []unix.Signal{unix.SIGTERM, unix.SIGKILL, unix.SIGINT, unix.SIGQUIT, unix.SIGHUP, unix.SIGSTOP, unix.SIGCONT, unix.SIGCHLD} {
		if mask&(1<<(uint(s)-1)) != 0 {
			names = append(names, strings.TrimPrefix(unix.SignalName(s), "SIG"))
		}
	}
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ",")
}

// describe renders a process as one line of evidence.
func (p procState) describe(frozen bool, killedAt time.Time, now time.Time) string {
	state := p.state + " (" + stateNames[p.state] + ")"
	if frozen {
		state += " in a frozen cgroup"
	}
	line := fmt.Sprintf("process %d (%s) state %s", p.pid, p.comm, state)
	if p.wchan != "" {
		line += " wchan=" + p.wchan
	}
	if len(p.stack) > 0 {
		line += " stack=" + strings.Join(p.stack, "<")
	}
	line += fmt.Sprintf(" pending=%s shared-pending=%s blocked=%s ignored=%s caught=%s",
		signalSet(p.sigs["SigPnd"]), signalSet(p.sigs["ShdPnd"]), signalSet(p.sigs["SigBlk"]), signalSet(p.sigs["SigIgn"]), signalSet(p.sigs["SigCgt"]))
	if !killedAt.IsZero() {
		line += fmt.Sprintf("; %s since SIGKILL", now.Sub(killedAt).Round(100*time.Millisecond))
	}
	return line
}
