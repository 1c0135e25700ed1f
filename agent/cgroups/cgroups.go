// Package cgroups finds a container's cgroup directories from the OCI
// cgroupsPath, on cgroup v1, v2 and hybrid hosts, with the cgroupfs and the
// systemd drivers. It only stats and reads files; it never keeps one open.
package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Root is where the cgroup hierarchies are mounted.
const Root = "/sys/fs/cgroup"

// Dirs returns the directories that cgroupsPath names: one on a pure v2
// host, one per mounted hierarchy on v1 and hybrid hosts. They may not exist.
func Dirs(root, cgroupsPath string) []string {
	rel := relative(cgroupsPath)
	if rel == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return []string{filepath.Join(root, rel)}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var dirs []string
	for _, e := range entries {
		// Comounted controllers appear as both "cpu,cpuacct" and symlinks
		// "cpu" and "cpuacct"; the real directory is enough.
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(root, e.Name(), rel))
		}
	}
	return dirs
}

// InHierarchy returns the path that cgroupsPath names from a hierarchy's
// root, as the kernel writes it ("/k8s.io/abc"): the same on every
// hierarchy. It is "" for an empty cgroupsPath.
func InHierarchy(cgroupsPath string) string {
	if rel := relative(cgroupsPath); rel != "" {
		return "/" + rel
	}
	return ""
}

// relative turns a cgroupsPath into a path below a hierarchy's root. The
// systemd driver's "slice:prefix:name" nests the slice by its dashes:
// "kubepods-besteffort-pod1.slice:cri-containerd:abc" is
// kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope.
func relative(p string) string {
	parts := strings.Split(p, ":")
	if len(parts) != 3 || strings.HasPrefix(p, "/") {
		return strings.TrimPrefix(p, "/")
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	var dirs []string
	if slice != "" && slice != "-.slice" {
		base := strings.TrimSuffix(slice, ".slice")
		words := strings.Split(base, "-")
		for i := range words {
			dirs = append(dirs, strings.Join(words[:i+1], "-")+".slice")
		}
	}
	unit := name
	if !strings.HasSuffix(name, ".slice") {
		unit = prefix + "-" + name + ".scope"
	}
	return filepath.Join(append(dirs, unit)...)
}

// Exists reports whether any of dirs still exists.
func Exists(dirs []string) bool {
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			return true
		}
	}
	return false
}

// ID returns the id the kernel gives the cgroup at dir: on 64-bit kernels,
// its kernfs node id, which is the directory's inode number. Ids are unique
// within one hierarchy only.
func ID(dir string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	return st.Ino, nil
}

// Procs lists the processes in the first of dirs that has a cgroup.procs.
func Procs(dirs []string) []int {
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		var pids []int
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	return nil
}

// Frozen reports whether the cgroup that cgroupsPath names below root is
// frozen or freezing: through the v1 freezer hierarchy's freezer.state, or
// v2's cgroup.freeze, on a pure v2 host or in a hybrid host's unified
// hierarchy. It reads those files only, not every hierarchy's directory: a
// node deleting a hundred pods asks once a second for each container.
func Frozen(root, cgroupsPath string) bool {
	rel := relative(cgroupsPath)
	if rel == "" {
		return false
	}
	if b, err := os.ReadFile(filepath.Join(root, "freezer", rel, "freezer.state")); err == nil {
		if s := strings.TrimSpace(string(b)); s == "FROZEN" || s == "FREEZING" {
			return true
		}
	}
	for _, dir := range []string{filepath.Join(root, rel), filepath.Join(root, "unified", rel)} {
		if b, err := os.ReadFile(filepath.Join(dir, "cgroup.freeze")); err == nil && strings.TrimSpace(string(b)) == "1" {
			return true
		}
	}
	return false
}
