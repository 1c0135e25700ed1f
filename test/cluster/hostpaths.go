package cluster

import (
	"os"
	"path/filepath"
	"strings"
)

// hostPaths are directories at fixed places on the host that the node's
// parts create whatever their configuration says: the kubelet's device
// plugin socket dir (pluginapi.DevicePluginPath, hard-coded) and its legacy
// container log symlinks, and the CNI library's result cache. Deepest first,
// so that a parent is tried after its children.
var hostPaths = []string{
	"/var/lib/kubelet/device-plugins", "/var/lib/kubelet",
	"/var/log/containers",
	"/var/lib/cni/results", "/var/lib/cni",
}

// absentHostPaths lists the hostPaths that do not exist yet: the ones this
// cluster may create and so must remove.
func absentHostPaths() []string {
	var out []string
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			out = append(out, p)
		}
	}
	return out
}

// removeHostPaths removes the cluster's entries in the hostPaths (the
// kubelet leaves the log symlinks of pods still running when it stops), then
// the directories the cluster created, when empty. A directory another
// cluster on the host still uses is not empty and stays.
func removeHostPaths(created []string, dir string) {
	for _, l := range logSymlinks(dir) {
		os.Remove(l)
	}
	for _, p := range created {
		os.Remove(p)
	}
}

// logSymlinks lists the kubelet's legacy log symlinks that point into dir.
func logSymlinks(dir string) []string {
	if dir == "" {
		return nil
	}
	links, _ := filepath.Glob("/var/log/containers/*")
	var out []string
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && strings.HasPrefix(target, dir+"/") {
			out = append(out, l)
		}
	}
	return out
}

// hostPathLeftovers lists the created directories that still exist, and
// entries in any of hostPaths that belong to this cluster: log symlinks
// into its directory, CNI results of its network.
func hostPathLeftovers(created []string, dir, network string) []string {
	var out []string
	for _, p := range created {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, "host directory "+p)
		}
	}
	for _, l := range logSymlinks(dir) {
		out = append(out, "log symlink "+l)
	}
	results, _ := filepath.Glob(filepath.Join("/var/lib/cni/results", network+"-*"))
	for _, r := range results {
		out = append(out, "CNI result "+r)
	}
	return out
}
