// Package diagnose gathers evidence about a pod whose termination does not
// finish: its processes' states and signals, frozen cgroups, mounts still
// held, a shim or runtime that does not answer. It reads /proc and
// /sys/fs/cgroup and closes every file it opens.
package diagnose

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/graceline/graceline/agent/cgroups"
	"github.com/graceline/graceline/agent/timeline"
	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// maxEvidence bounds a report, whatever the pod holds.
const maxEvidence = 24

// Inspector implements timeline.Inspector on the node itself.
type Inspector struct {
	// KubeletRoot is the kubelet's --root-dir; pods' volumes live below it.
	KubeletRoot string
	// RuntimeErr returns the last error from the runtime's CRI API, or nil.
	RuntimeErr func() error
	Now        func() time.Time
	// MountInfo is the mountinfo file to read; empty means
	// /proc/self/mountinfo.
	MountInfo string

	// mounts is the last read of the mountinfo, reused by the inspections
	// within mountsMaxAge of it (see mountPoints).
	mountsMu   sync.Mutex
	mounts     []mount
	mountsRead time.Time
}

// mountsMaxAge is how long one read of the mountinfo serves inspections.
// The correlator inspects every terminating pod in a row once a tick; a
// node deleting a hundred pods read its mountinfo a hundred times a tick,
// one read now serves them all, and the next tick reads afresh.
const mountsMaxAge = 100 * time.Millisecond

// Inspect is part of timeline.Inspector.
func (in *Inspector) Inspect(s timeline.Subject) timeline.Inspection {
	now := in.Now()
	var found timeline.Inspection
	add := func(line string) {
		if len(found.Evidence) < maxEvidence {
			found.Evidence = append(found.Evidence, line)
		}
	}
	block := func(b summary.Blocker) { found.Blockers = append(found.Blockers, b) }
	// Until a stuck report is due only the notes are looked for: a frozen
	// container, which a later look may no longer find. The evidence reads
	// every process of the pod and the node's mounts, which a node deleting
	// a hundred pods at once cannot afford every second for each.
	if s.Due {
		if in.RuntimeErr != nil {
			if err := in.RuntimeErr(); err != nil {
				line := "container runtime not answering CRI calls: " + err.Error()
				add(line)
				block(summary.Blocker{Cause: apiv1.StuckRuntimeNotAnswering, What: err.Error(), Facts: []string{line}})
			}
		}
		if shim := findShim(shimChildren(s)); shim != nil {
			if shim.state == "T" || shim.state == "t" || shim.state == "D" {
				line := fmt.Sprintf("runtime shim %d (%s) for sandbox %.12s is %s: it cannot act on the pod's containers", shim.pid, shim.comm, s.SandboxID, stateNames[shim.state])
				add(line)
				block(summary.Blocker{Cause: apiv1.StuckShimStopped, What: fmt.Sprintf("runtime shim %s (pid %d)", shim.comm, shim.pid), Facts: []string{line}})
			}
		}
	}
	allExited := true
	for _, c := range s.Containers {
		allExited = allExited && c.Exited
		if !s.Due && c.Exited {
			// Its init is gone: it was not frozen, and will not be.
			continue
		}
		frozen := cgroups.Frozen(cgroups.Root, c.CgroupsPath)
		if !s.Due && !frozen {
			continue
		}
		pids := cgroups.Procs(cgroups.Dirs(cgroups.Root, c.CgroupsPath))
		if len(pids) == 0 && c.Pid > 0 && !c.Exited {
			pids = []int{int(c.Pid)}
		}
		asleep := false
		for i, pid := range pids {
			p, err := readProc(pid)
			if err != nil {
				continue
			}
			line := p.describe(frozen, c.KilledAt, now)
			if frozen && i == 0 {
				// Kept for the summary: the freezer held the signals back.
				found.Notes = append(found.Notes, fmt.Sprintf("container %s was frozen: %s", c.Name, line))
			}
			if !s.Due {
				break
			}
			line = fmt.Sprintf("container %s: %s", c.Name, line)
			add(line)
			switch {
			case frozen && i == 0:
				block(summary.Blocker{Cause: apiv1.StuckCgroupFrozen, Container: c.Name, Facts: []string{line}})
			case !frozen && p.state == "D" && !asleep:
				asleep = true
				block(summary.Blocker{Cause: apiv1.StuckUninterruptible, Container: c.Name, What: fmt.Sprintf("%s (pid %d)", p.comm, p.pid), Facts: []string{line}})
			}
			if p.state == "Z" {
				if parent, err := readProc(p.ppid); err == nil {
					add(fmt.Sprintf("container %s: zombie %d not reaped by its parent %d (%s, state %s)", c.Name, pid, parent.pid, parent.comm, parent.state))
				}
			}
		}
	}
	if !s.Due {
		return timeline.Inspection{Notes: found.Notes}
	}
	if s.Phase == timeline.PhaseSandboxTeardown && s.NetNS != "" {
		if _, err := os.Stat(s.NetNS); err == nil {
			line := "sandbox network namespace still present: " + s.NetNS + " (network teardown has not finished)"
			add(line)
			if s.CNIDelFailure != "" {
				block(summary.Blocker{Cause: apiv1.StuckCNIDelFailing, What: s.CNIDelFailure, Facts: []string{line, s.CNIDelFailure}})
			}
		}
	}
	if in.KubeletRoot != "" {
		in.inspectMounts(s, allExited, add, block)
	}
	return found
}

// inspectMounts adds the pod's volume mounts still present to the evidence
// and, once its containers are gone, names the processes that keep them
// busy. While a container runs, its volumes are mounted as they should be.
func (in *Inspector) inspectMounts(s timeline.Subject, allExited bool, add func(string), block func(summary.Blocker)) {
	dir := filepath.Join(in.KubeletRoot, "pods", s.PodUID)
	all := in.readMounts(in.Now())
	for _, m := range all {
		if !Below(m.point, dir) {
			continue
		}
		line := "mount still present: " + m.point
		add(line)
		if !allExited {
			continue
		}
		holders := busyHolders(m, sharedDevice(m, all, dir))
		if len(holders) == 0 {
			continue
		}
		facts := []string{line}
		var names []string
		for _, h := range holders {
			fact := fmt.Sprintf("%s keeps it busy: %s", h.name(), h.how)
			add(fact)
			facts = append(facts, fact)
			names = append(names, h.name())
		}
		block(summary.Blocker{Cause: apiv1.StuckBusyMount, What: strings.Join(names, ", "), Facts: facts})
	}
}

// shimChildren lists the pod's processes whose parent is its runtime shim:
// the sandbox's own process, then each container's first process.
func shimChildren(s timeline.Subject) []int {
	var pids []int
	if s.SandboxPid > 0 {
		pids = append(pids, int(s.SandboxPid))
	}
	for _, c := range s.Containers {
		if c.Pid > 0 && !c.Exited {
			pids = append(pids, int(c.Pid))
		}
	}
	return pids
}

// findShim finds the runtime shim serving a pod as the parent of one of
// its processes. Only the pod's own processes are read, never all of /proc:
// a node runs thousands, and this runs for every terminating pod on every
// tick.
func findShim(children []int) *procState {
	for _, pid := range children {
		child, err := readProc(pid)
		if err != nil {
			continue
		}
		parent, err := readProc(child.ppid)
		if err == nil && strings.HasPrefix(parent.comm, "containerd-shim") {
			return &parent
		}
	}
	return nil
}

// readMounts returns the node's mounts, read at most once per
// mountsMaxAge. The read runs outside the lock; two inspections that both
// find the copy old both read, which is only a read too many.
func (in *Inspector) readMounts(now time.Time) []mount {
	in.mountsMu.Lock()
	mounts, fresh := in.mounts, !in.mountsRead.IsZero() && now.Sub(in.mountsRead) < mountsMaxAge && now.Sub(in.mountsRead) >= 0
	in.mountsMu.Unlock()
	if fresh {
		return mounts
	}
	file := in.MountInfo
	if file == "" {
		file = "/proc/self/mountinfo"
	}
	mounts, err := readMounts(file)
	if err != nil {
		return nil
	}
	in.mountsMu.Lock()
	in.mounts, in.mountsRead = mounts, now
	in.mountsMu.Unlock()
	return mounts
}

// MountsUnder lists the mount points at or below dir in a mountinfo file.
func MountsUnder(mountinfo, dir string) []string {
	points, err := MountPoints(mountinfo)
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range points {
		if Below(p, dir) {
			out = append(out, p)
		}
	}
	return out
}

// Below tells whether path is dir or lies below it.
func Below(path, dir string) bool {
	return path == dir || (len(path) > len(dir) && path[len(dir)] == '/' && strings.HasPrefix(path, dir))
}

// MountPoints reads the mount points of a mountinfo file, in its order.
func MountPoints(mountinfo string) ([]string, error) {
	mounts, err := readMounts(mountinfo)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(mounts))
	for i, m := range mounts {
		out[i] = m.point
	}
	return out, nil
}

// field returns the n-th (from 0) space-separated field of line.
func field(line []byte, n int) ([]byte, bool) {
	for i := 0; ; i++ {
		line = bytes.TrimLeft(line, " ")
		if len(line) == 0 {
			return nil, false
		}
		end := bytes.IndexByte(line, ' ')
		if end < 0 {
			end = len(line)
		}
		if i == n {
			return line[:end], true
		}
		line = line[end:]
	}
}
