package diagnose

import (
	"slices"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/agent/cgroups"
	"github.com/graceline/graceline/agent/timeline"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// maxProcesses bounds a container's inspection, whatever it runs: the init
// and the processes beside it that a cause can name are few.
const maxProcesses = 32

// Processes is part of timeline.Inspector: it reads the container's
// processes as they are right after its stop signal, the init first, each
// with its signal masks, and whether its cgroup is frozen. It reads
// cgroup.procs, /proc/<pid>/stat and /proc/<pid>/status, and closes each.
func (in *Inspector) Processes(c timeline.SubjectContainer) (procs []*apiv1.Process, frozen bool) {
	frozen = cgroups.Frozen(cgroups.Root, c.CgroupsPath)
	pids := cgroups.Procs(cgroups.Dirs(cgroups.Root, c.CgroupsPath))
	if len(pids) == 0 && c.Pid > 0 {
		pids = []int{int(c.Pid)}
	}
	// The init first, then the others by pid, as far as the bound goes.
	slices.SortFunc(pids, func(a, b int) int {
		switch {
		case a == int(c.Pid):
			return -1
		case b == int(c.Pid):
			return 1
		}
		return a - b
	})
	boot := bootTime(in.Now())
	for _, pid := range pids {
		if len(procs) == maxProcesses {
			break
		}
		p, err := readStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		readStatus(&p)
		procs = append(procs, p.process(boot))
	}
	return procs, frozen
}

// process is p in the contract's form.
func (p procState) process(boot time.Time) *apiv1.Process {
	out := &apiv1.Process{
		Pid: int32(p.pid), Comm: p.comm, Ppid: int32(p.ppid), State: p.state, NsPid: int32(p.nsPid),
		SigIgnored: apiv1.SignalSet(p.sigs["SigIgn"]), SigCaught: apiv1.SignalSet(p.sigs["SigCgt"]),
		SigBlocked: apiv1.SignalSet(p.sigs["SigBlk"]), SigPending: apiv1.SignalSet(p.sigs["SigPnd"] | p.sigs["ShdPnd"]),
	}
	if !boot.IsZero() && p.start > 0 {
		out.Started = timestamppb.New(boot.Add(p.start))
	}
	return out
}

// bootTime is when the machine booted, by the wall clock at now: the origin
// of a process's start time, which counts from boot (suspends included).
func bootTime(now time.Time) time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Time{}
	}
	return now.Add(-time.Duration(ts.Nano()))
}
