package probe

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graceline/graceline/internal/procstat"
)

// ProcessStart returns when pid started, on the same wall clock as the
// kernel events' stamps. /proc gives it in ticks of the boot-time clock, so
// it is rounded down to 10 ms: never after the process's real start.
func (c Clock) ProcessStart(pid int) (time.Time, error) {
	stat, err := procstat.Read("/proc", pid)
	if err != nil {
		return time.Time{}, err
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
	started := stat.Start.Nanoseconds() - (boot.Nano() - mono.Nano())
	return c.Wall(uint64(max(started, 0))), nil
}
