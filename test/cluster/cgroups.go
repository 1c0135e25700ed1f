package cluster

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// cgroupMounts lists the mount points of every cgroup hierarchy (v1
// controllers and the v2 unified one), so the kubelet's cgroup root can be
// made and removed in all of them.
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Fields after " - " are: fstype source options.
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fs := strings.Fields(post)
		if !ok || len(fs) == 0 || (fs[0] != "cgroup" && fs[0] != "cgroup2") {
			continue
		}
		if fields := strings.Fields(pre); len(fields) > 4 {
			out = append(out, fields[4])
		}
	}
	return out, sc.Err()
}

// makeCgroupRoot creates the kubelet's cgroup root in every hierarchy. The
// kubelet refuses a cgroup root that is missing in any controller it uses.
// A new cpuset cgroup has no CPUs or memory nodes until given its parent's.
func makeCgroupRoot(name string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		dir := filepath.Join(m, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		for _, file := range []string{"cpuset.cpus", "cpuset.mems", "cgroup.subtree_control"} {
			b, err := os.ReadFile(filepath.Join(m, file))
			if err != nil {
				continue
			}
			val := strings.TrimSpace(string(b))
			if file == "cgroup.subtree_control" {
				val = "+" + strings.Join(strings.Fields(val), " +")
			}
			if val != "" && val != "+" {
				os.WriteFile(filepath.Join(dir, file), []byte(val), 0o644)
			}
		}
	}
	return nil
}

// removeCgroupRoot removes the cgroup root and everything below it, deepest
// first, in every hierarchy. A cgroup that still holds a process cannot be
// removed, so this fails while anything of the cluster still runs.
func removeCgroupRoot(name string) error {
	dirs, err := cgroupRootDirs(name)
	if err != nil {
		return err
	}
	var errs []string
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove cgroups: %s", strings.Join(errs, "; "))
	}
	return nil
}

// cgroupRootDirs lists the cgroup directories at or below the root in every
// hierarchy, deepest first.
func cgroupRootDirs(name string) ([]string, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, m := range mounts {
		filepath.WalkDir(filepath.Join(m, name), func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	return dirs, nil
}
