// Package procstat reads /proc/<pid>/stat: the one place that knows its
// layout, for the agent's readers of a process's state and start.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Tick is the unit of the file's times (USER_HZ), which Linux fixes at 100
// a second for user space.
const Tick = time.Second / 100

// Stat is what the agent uses of a process's stat line.
type Stat struct {
	Comm  string
	State string // R, S, D, T, Z, ...
	PPid  int
	// Start is when the process started, since boot (suspends included),
	// rounded down to a Tick.
	Start time.Duration
}

// Read reads the stat line of pid below root, the node's /proc unless a
// test gives another.
func Read(root string, pid int) (Stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", root, pid))
	if err != nil {
		return Stat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	s, err := Parse(b)
	if err != nil {
		return Stat{}, fmt.Errorf("parse stat of pid %d: %w", pid, err)
	}
	return s, nil
}

// Parse reads a stat line. The command name (field 2) is in parentheses
// and may hold spaces and parentheses itself, so the other fields are
// counted from the last ')'. Fields missing from a short line are left
// zero.
func Parse(line []byte) (Stat, error) {
	open, end := bytes.IndexByte(line, '('), bytes.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return Stat{}, fmt.Errorf("no command name in %q", line)
	}
	s := Stat{Comm: string(line[open+1 : end])}
	// The first field after the command name is the third.
	fields := bytes.Fields(line[end+1:])
	field := func(n int) []byte {
		if i := n - 3; i < len(fields) {
			return fields[i]
		}
		return nil
	}
	s.State = string(field(3))
	s.PPid, _ = strconv.Atoi(string(field(4)))
	if ticks, err := strconv.ParseInt(string(field(22)), 10, 64); err == nil {
		s.Start = time.Duration(ticks) * Tick
	}
	return s, nil
}
