package cluster

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// hostPaths are directories at fixed places on the host that the node's
// parts create whatever their configuration says: the kubelet's device
// plugin socket dir (pluginapi.DevicePluginPath, hard-coded) and its legacy
// container log symlinks, and the CNI library's result cache. Deepest first,
// so that a parent is tried after its children.
var hostPaths = []string{
	devicePluginDir, "/var/lib/kubelet",
	"/var/log/containers",
	"/var/lib/cni/results", "/var/lib/cni",
	gracelineSpool, gracelineDir,
}

// The agent's spool, a hostPath of the shipped DaemonSet (type
// DirectoryOrCreate) that the kubelet creates when graceline is installed:
// it outlives the agent's pods, and uninstalling leaves it, with what was
// not delivered. A cluster that found it absent removes it, content and all.
const (
	gracelineDir   = "/var/lib/graceline"
	gracelineSpool = gracelineDir + "/spool"
)

// hostTrees are the hostPaths whose content is the cluster's alone when it
// created them.
var hostTrees = []string{gracelineSpool, gracelineDir}

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
// the directories the cluster created, when empty, or, for hostTrees, with
// their content. A directory another cluster on the host still uses is not
// empty and stays.
func removeHostPaths(created []string, dir string) {
	for _, l := range logSymlinks(dir) {
		os.Remove(l)
	}
	// A kubelet leaves its device-plugin socket behind when it stops. Every
	// kubelet uses the same path, so the socket is removed only when no
	// kubelet runs on the host any more.
	if slices.Contains(created, devicePluginDir) && !kubeletRunning() {
		os.Remove(filepath.Join(devicePluginDir, "kubelet.sock"))
	}
	for _, p := range created {
		if slices.Contains(hostTrees, p) {
			os.RemoveAll(p)
			continue
		}
		os.Remove(p)
	}
}

// devicePluginDir is where every kubelet puts its device-plugin socket.
const devicePluginDir = "/var/lib/kubelet/device-plugins"

// kubeletRunning reports whether any kubelet process is running.
func kubeletRunning() bool {
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		if b, err := os.ReadFile(c); err == nil && strings.TrimSpace(string(b)) == "kubelet" {
			return true
		}
	}
	return false
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
