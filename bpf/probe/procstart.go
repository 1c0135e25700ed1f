package probe

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of /proc/<pid>/stat's times: USER_HZ, 100 on every
// architecture Go runs Linux on.
const userHZ = 100

// ProcessStart returns when pid started, on the same wall clock as the
// kernel events' stamps. /proc gives it in ticks of the boot-time clock,
// so it is rounded down to 10 ms: never after the process's real start.
func (c Clock) ProcessStart(pid int) (time.Time, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, fmt.Errorf("read start time of pid %d: %w", pid, err)
	}
	ticks, err := startTicks(stat)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse start time of pid %d: %w", pid, err)
	}
	// The boot-time clock runs ahead of CLOCK_MONOTONIC by the time spent
	// suspended; the events are stamped with the latter.
	var boot, mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err != nil {
		return time.Time{}, fmt.Errorf("read boot-time clock: %w", err)
	}
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		return time.Time{}, fmt.Errorf("read monotonic clock: %w", err)
	}
	started := int64(ticks)*int64(time.Second/userHZ) - (boot.Nano() - mono.Nano())
	return c.Wall(uint64(max(started, 0))), nil
}

// startTicks returns field 22 of a /proc/<pid>/stat line. The command name
// (field 2) is in parentheses and may hold spaces and parentheses itself, so
// the fields are counted from the last ')'.
func startTicks(stat []byte) (uint64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	fields := bytes.Fields(stat[end+1:])
	const startField = 22 - 3 // the fields after ')' start at the third
	if len(fields) <= startField {
		return 0, fmt.Errorf("%d fields after the command name, want more than %d", len(fields), startField)
	}
	return strconv.ParseUint(string(fields[startField]), 10, 64)
}
