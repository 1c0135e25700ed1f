package diagnose

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mount is one line of a mountinfo file: where it is mounted and the
// device of its filesystem.
type mount struct {
	point string
	dev   string // "major:minor", as mountinfo writes it
}

// maxHolders bounds the processes a busy mount's report names.
const maxHolders = 4

// holder is a process that keeps a mount busy, and how.
type holder struct {
	pid  int
	comm string
	how  string
}

func (h holder) name() string { return fmt.Sprintf("%s (pid %d)", h.comm, h.pid) }

// busyHolders finds the processes of the node whose working directory,
// root or an open file lies on the filesystem mounted at m: what makes an
// unmount fail with EBUSY. A file is matched by its device, which every
// mount namespace sees alike (an agent in a pod reads its own copy of the
// kubelet's mounts, and a readlink of another namespace's path would not
// name it); when the device is not the mount's alone (a bind mount of a
// directory of a disk the node also uses elsewhere), its path must also
// lie below the mount point. This reads every process's descriptors, so it
// runs only when a stuck report is due on a pod whose containers are all
// gone but whose volume is still mounted: rare, and then the question. It
// skips the agent itself, and stats with AT_STATX_DONT_SYNC so that a hung
// network filesystem answers from its cache instead of holding the scan.
func busyHolders(m mount, shared bool) []holder {
	want, err := parseDev(m.dev)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	on := func(path string) bool {
		var st unix.Statx_t
		if unix.Statx(unix.AT_FDCWD, path, unix.AT_STATX_DONT_SYNC|unix.AT_NO_AUTOMOUNT, unix.STATX_TYPE, &st) != nil {
			return false
		}
		if uint64(unix.Mkdev(st.Dev_major, st.Dev_minor)) != want {
			return false
		}
		if !shared {
			return true
		}
		target, err := os.Readlink(path)
		return err == nil && Below(target, m.point)
	}
	var out []holder
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		proc := "/proc/" + e.Name()
		how := ""
		switch {
		case on(proc + "/cwd"):
			how = "its working directory is in " + m.point
		case on(proc + "/root"):
			how = "its root is in " + m.point
		default:
			how = openFileOn(proc, on)
		}
		if how == "" {
			continue
		}
		p, err := readStat(pid)
		if err != nil {
			continue
		}
		out = append(out, holder{pid: pid, comm: p.comm, how: how})
		if len(out) == maxHolders {
			break
		}
	}
	return out
}

// openFileOn names the first of a process's open files for which on holds,
// or "" when none does.
func openFileOn(proc string, on func(string) bool) string {
	fds, err := os.ReadDir(proc + "/fd")
	if err != nil {
		return ""
	}
	for _, fd := range fds {
		path := proc + "/fd/" + fd.Name()
		if on(path) {
			target, _ := os.Readlink(path)
			return "it has " + target + " open (fd " + fd.Name() + ")"
		}
	}
	return ""
}

// parseDev reads mountinfo's "major:minor".
func parseDev(s string) (uint64, error) {
	major, minor, ok := strings.Cut(s, ":")
	ma, err1 := strconv.ParseUint(major, 10, 32)
	mi, err2 := strconv.ParseUint(minor, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse device %q", s)
	}
	return unix.Mkdev(uint32(ma), uint32(mi)), nil
}

// readMounts reads a mountinfo file's mount points and devices, in its
// order. Only the third and fifth fields are taken, without splitting the
// whole line: a node's mountinfo has a few lines per pod, and the release
// watcher reads it every poll while pods terminate. The kernel escapes
// blanks in paths (\040), so a field never holds a space.
func readMounts(mountinfo string) ([]mount, error) {
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	var out []mount
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		dev, ok1 := field(line, 2)
		point, ok2 := field(line, 4)
		if ok1 && ok2 {
			out = append(out, mount{point: string(point), dev: string(dev)})
		}
	}
	return out, nil
}

// sharedDevice says whether m's device is also mounted outside dir, so
// that a file on it is not necessarily below m.
func sharedDevice(m mount, all []mount, dir string) bool {
	for _, o := range all {
		if o.dev == m.dev && !Below(o.point, dir) {
			return true
		}
	}
	return false
}
