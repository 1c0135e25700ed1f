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
	mounts     []string
	mountsRead time.Time
}

// mountsMaxAge is how long one read of the mountinfo serves inspections.
// The correlator inspects every terminating pod in a row once a tick; a
// node deleting a hundred pods read its mountinfo a hundred times a tick,
// one read now serves them all, and the next tick reads afresh.
const mountsMaxAge = 100 * time.Millisecond

// Inspect is part of timeline.Inspector.
func (in *Inspector) Inspect(s timeline.Subject) (evidence, notes []string) {
	now := in.Now()
	add := func(line string) {
		if len(evidence) < maxEvidence {
			evidence = append(evidence, line)
		}
	}
	// Until a stuck report is due only the notes are looked for: a frozen
	// container, which a later look may no longer find. The evidence reads
	// every process of the pod and the node's mounts, which a node deleting
	// a hundred pods at once cannot afford every second for each.
	if s.Due {
		if in.RuntimeErr != nil {
			if err := in.RuntimeErr(); err != nil {
				add("container runtime not answering CRI calls: " + err.Error())
			}
		}
		if shim := findShim(shimChildren(s)); shim != nil {
			if shim.state == "T" || shim.state == "t" || shim.state == "D" {
				add(fmt.Sprintf("runtime shim %d (%s) for sandbox %.12s is %s: it cannot act on the pod's containers", shim.pid, shim.comm, s.SandboxID, stateNames[shim.state]))
			}
		}
	}
	for _, c := range s.Containers {
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
		for i, pid := range pids {
			p, err := readProc(pid)
			if err != nil {
				continue
			}
			line := p.describe(frozen, c.KilledAt, now)
			if frozen && i == 0 {
				// Kept for the summary: the freezer held the signals back.
				notes = append(notes, fmt.Sprintf("container %s was frozen: %s", c.Name, line))
			}
			if !s.Due {
				break
			}
			add(fmt.Sprintf("container %s: %s", c.Name, line))
			if p.state == "Z" {
				if parent, err := readProc(p.ppid); err == nil {
					add(fmt.Sprintf("container %s: zombie %d not reaped by its parent %d (%s, state %s)", c.Name, pid, parent.pid, parent.comm, parent.state))
				}
			}
		}
	}
	if !s.Due {
		return nil, notes
	}
	if s.Phase == timeline.PhaseSandboxTeardown && s.NetNS != "" {
		if _, err := os.Stat(s.NetNS); err == nil {
			add("sandbox network namespace still present: " + s.NetNS + " (network teardown has not finished)")
		}
	}
	if in.KubeletRoot != "" {
		dir := filepath.Join(in.KubeletRoot, "pods", s.PodUID)
		for _, m := range in.mountPoints(now) {
			if Below(m, dir) {
				add("mount still present: " + m)
			}
		}
	}
	return evidence, notes
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

// mountPoints returns the node's mount points, read at most once per
// mountsMaxAge. The read runs outside the lock; two inspections that both
// find the copy old both read, which is only a read too many.
func (in *Inspector) mountPoints(now time.Time) []string {
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
	mounts, err := MountPoints(file)
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
// Only the fifth field is taken, without splitting the whole line: a node's
// mountinfo has a few lines per pod, and the release watcher reads it every
// poll while pods terminate. The kernel escapes blanks in paths (\040), so
// a field never holds a space.
func MountPoints(mountinfo string) ([]string, error) {
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	var out []string
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if p, ok := field(line, 4); ok {
			out = append(out, string(p))
		}
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
