// Package harness runs real container runtimes for graceline's tests and
// demo: a private containerd (Debian's 1.6 or a 2.x built from the module
// proxy) in a temporary directory, local images, and a driver that deletes
// pods the way the kubelet does.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/graceline/graceline/cri"
)

// Flavor is a containerd release line.
type Flavor string

// The flavors the harness can run.
const (
	// Containerd16 is Debian's containerd 1.6: no CRI event stream.
	Containerd16 Flavor = "containerd-1.6"
	// Containerd17 is containerd 1.7 built by hack/install-deps.sh: a CRI
	// event stream that is one queue for every subscriber.
	Containerd17 Flavor = "containerd-1.7"
	// Containerd2 is containerd 2.x built by hack/install-deps.sh.
	Containerd2 Flavor = "containerd-2"
	// Containerd2Unified is containerd 2.x in a mount namespace of its own
	// whose /sys/fs/cgroup is a cgroup2 mount: a pure cgroup v2 node, as
	// every current distribution has, on a host whose controllers are bound
	// to v1 hierarchies. Only the controllers v1 left free are available
	// there (no memory controller: no memory limit, no OOM kill), so runc
	// runs through unifiedrunc, which drops the resource settings of the
	// others; the core of v2 (one directory per container, cgroup.freeze,
	// cgroup.kill, private cgroup namespaces) is all there. Processes that
	// should see the node as the daemon does enter its namespace (Enter).
	Containerd2Unified Flavor = "containerd-2-cgroupv2"
)

// Flavors lists every flavor, for table-driven tests.
var Flavors = []Flavor{Containerd16, Containerd17, Containerd2, Containerd2Unified}

// release is the containerd release line the flavor runs.
func (f Flavor) release() Flavor {
	if f == Containerd2Unified {
		return Containerd2
	}
	return f
}

// Unified tells whether the flavor's runtime runs on a pure cgroup v2
// hierarchy, which it sees at /sys/fs/cgroup in its own mount namespace
// (Containerd.Enter) and the host at /sys/fs/cgroup/unified.
func (f Flavor) Unified() bool { return f == Containerd2Unified }

// Containerd is a running private containerd.
type Containerd struct {
	Flavor Flavor
	Dir    string
	// Address is the socket path for both CRI and containerd's own API.
	Address string
	Log     string

	// Bridge is the CNI bridge of the pods with their own network.
	Bridge string

	root   string
	opts   options
	cmd    *exec.Cmd
	exited chan struct{}
}

// Pid is the daemon's process ID, or 0 when it is not running.
func (c *Containerd) Pid() int {
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// ShimPid finds the shim that serves a sandbox, by its command line.
func ShimPid(sandboxID string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "containerd-shim") || !strings.Contains(string(b), "\x00"+sandboxID+"\x00") {
			continue
		}
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
		return pid
	}
	return 0
}

// Enter is the command prefix that runs a program in the daemon's mount
// namespace; empty when it has none of its own.
func (c *Containerd) Enter() []string {
	if !c.opts.cgroup2 || c.Pid() == 0 {
		return nil
	}
	return []string{"nsenter", fmt.Sprintf("--mount=/proc/%d/ns/mnt", c.Pid()), "--"}
}

// Endpoint is the CRI endpoint URL.
func (c *Containerd) Endpoint() string { return "unix://" + c.Address }

// RepoRoot finds the module root by walking up from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

func binaryFor(root string, f Flavor) (bin, path string, err error) {
	sysPath := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	switch f.release() {
	case Containerd16:
		bin = "/usr/bin/containerd"
		path = sysPath
	case Containerd17:
		dir := filepath.Join(root, "_output", "containerd17")
		bin = filepath.Join(dir, "containerd")
		// Its own shim must win over Debian's 1.6 shim in /usr/bin and the
		// 2.x one.
		path = dir + ":" + sysPath
	case Containerd2:
		dir := filepath.Join(root, "_output", "bin")
		bin = filepath.Join(dir, "containerd")
		// The 2.x shim must win over Debian's 1.6 shim in /usr/bin.
		path = dir + ":" + sysPath
	default:
		return "", "", fmt.Errorf("unknown containerd flavor %q", f)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", "", fmt.Errorf("%s not installed (run hack/install-deps.sh): %w", f, err)
	}
	return bin, path, nil
}

// StartContainerd starts a private containerd of the given flavor in a new
// temporary directory, waits until its CRI plugin answers, and imports the
// local images. Call Close to stop it and remove everything it made.
func StartContainerd(ctx context.Context, f Flavor, images ...string) (*Containerd, error) {
	return StartContainerdWith(ctx, f, nil, images...)
}

// StartContainerdWith is StartContainerd with options, for example a CNI
// network for a kubelet's runtime.
func StartContainerdWith(ctx context.Context, f Flavor, opts []Option, images ...string) (*Containerd, error) {
	c, err := NewContainerd(f, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := ImportImages(ctx, c.Address, images...); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// NewContainerd prepares a private containerd's directory and configuration
// without starting it, so that a test can point a client at its socket first.
func NewContainerd(f Flavor, opts ...Option) (*Containerd, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	// A short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "gl-ctd-")
	if err != nil {
		return nil, err
	}
	c := &Containerd{Flavor: f, Dir: dir, Address: filepath.Join(dir, "containerd.sock"), Log: filepath.Join(dir, "containerd.log"), root: root}
	for _, o := range opts {
		o(&c.opts)
	}
	c.opts.cgroup2 = f.Unified()
	if c.opts.sharedDir {
		if err := shareDir(dir); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.writeConfig(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Start (re)starts the daemon on the existing directory and waits for CRI.
func (c *Containerd) Start(ctx context.Context) error {
	bin, path, err := binaryFor(c.root, c.Flavor)
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	c.cmd = exec.Command(bin, "--config", filepath.Join(c.Dir, "config.toml"))
	if c.opts.cgroup2 {
		// The namespace's other mounts keep their propagation, so the
		// directory shared with the host stays shared.
		c.cmd = exec.Command("unshare", "--mount", "--propagation", "unchanged", "--",
			"sh", "-c", `mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"`, "sh", bin, "--config", filepath.Join(c.Dir, "config.toml"))
	}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.Env = []string{"PATH=" + path, "HOME=" + c.Dir}
	// Its own process group, so a Ctrl-C at the terminal reaches the
	// harness, which then stops the daemon in order.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.Flavor, err)
	}
	c.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(c.cmd, c.exited)
	return c.waitReady(ctx)
}

func (c *Containerd) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited during start-up; log:\n%s", c.Flavor, c.tail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		// The CRI answers Version before it has recovered its state; until
		// then other calls fail with "server is not initialized yet".
		rs, err := cri.Dial(ctx, c.Endpoint(), 2*time.Second)
		if err == nil {
			_, err = rs.ListPodSandbox(ctx, nil)
			rs.Close(ctx)
			if err == nil {
				return nil
			}
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after 60s: %v; log:\n%s", c.Flavor, lastErr, c.tail())
}

// Stop stops the daemon, leaving shims and containers running, as a
// containerd restart on a node does.
func (c *Containerd) Stop() error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
	return nil
}

// Close removes every pod the daemon still runs, stops it, kills any shim it
// left, unmounts what it mounted, and deletes its directory.
func (c *Containerd) Close() error {
	if c.cmd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if d, err := NewDriver(ctx, c.Endpoint()); err == nil {
			d.RemoveAll(ctx)
			d.Close()
		}
		cancel()
	}
	c.Stop()
	killShims(c.Address)
	unmountUnder(c.Dir)
	if c.opts.sharedDir {
		syscall.Unmount(c.Dir, syscall.MNT_DETACH)
	}
	if c.Bridge != "" {
		exec.Command("ip", "link", "del", c.Bridge).Run()
	}
	return os.RemoveAll(c.Dir)
}

// shareDir bind-mounts dir onto itself and makes the mount shared: the
// host's / may be private (no systemd here), and a bind mount is what can
// be made shared without changing anything else on the host.
func shareDir(dir string) error {
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount %s onto itself: %w", dir, err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_SHARED, ""); err != nil {
		syscall.Unmount(dir, syscall.MNT_DETACH)
		return fmt.Errorf("make %s a shared mount: %w", dir, err)
	}
	return nil
}

// tail returns the end of the daemon's log, for error messages.
func (c *Containerd) tail() string {
	b, _ := os.ReadFile(c.Log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// killShims kills shim processes started for this daemon: their command
// line names its socket.
func killShims(address string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "containerd-shim") || !strings.Contains(string(b), address) {
			continue
		}
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
		if pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// unmountUnder lazily unmounts every mount below dir, deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
}

func (c *Containerd) writeConfig() error {
	tmpl := config16
	if c.Flavor.release() == Containerd2 {
		tmpl = config2
	}
	for _, d := range []string{"root", "state", "cni", "opt", "runc", "ipam"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d), 0o755); err != nil {
			return err
		}
	}
	if c.opts.cniConfList != nil {
		// The caller owns this network, its bridge included.
		if err := os.WriteFile(filepath.Join(c.Dir, "cni", "10-graceline.conflist"), c.opts.cniConfList, 0o644); err != nil {
			return fmt.Errorf("write CNI config: %w", err)
		}
	} else if err := c.writeCNIConfig(); err != nil {
		return err
	}
	if err := c.installCNIPlugins(); err != nil {
		return err
	}
	runc := ""
	if c.opts.cgroup2 {
		if _, err := os.Stat(filepath.Join(unifiedOnHost, "cgroup.procs")); err != nil {
			return fmt.Errorf("this host has no cgroup2 hierarchy at %s to run %s on: %w", unifiedOnHost, c.Flavor, err)
		}
		if c.Flavor.release() != Containerd2 {
			return fmt.Errorf("unified cgroups are set up for %s only", Containerd2)
		}
		if _, err := buildStatic(context.Background(), c.root, c.Dir, "unifiedrunc"); err != nil {
			return err
		}
		runc = filepath.Join(c.Dir, "unifiedrunc")
	}
	f, err := os.Create(filepath.Join(c.Dir, "config.toml"))
	if err != nil {
		return err
	}
	defer f.Close()
	return template.Must(template.New("config").Parse(tmpl)).Execute(f, map[string]string{
		"Dir": c.Dir, "Address": c.Address, "Pause": PauseImage, "Runc": runc,
	})
}

// writeCNIConfig gives the daemon a bridge network of its own: a bridge and
// a /24 named after the directory, so that two daemons never share one, and
// IPAM state inside Dir.
func (c *Containerd) writeCNIConfig() error {
	sum := 0
	for _, b := range []byte(filepath.Base(c.Dir)) {
		sum = sum*31 + int(b)
	}
	if sum < 0 {
		sum = -sum
	}
	c.Bridge = fmt.Sprintf("gl%06x", sum%0xffffff)
	conf := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "graceline-test",
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": "10.%d.%d.0/24"}]]}},
    {"type": "cnifail", "failMarker": %q},
    {"type": "loopback"}
  ]
}
`, c.Bridge, filepath.Join(c.Dir, "ipam"), 200+sum%50, sum%250, c.failMarker())
	return os.WriteFile(filepath.Join(c.Dir, "cni", "10-graceline.conflist"), []byte(conf), 0o644)
}

// CNIBinDir is the directory the daemon runs CNI plugins from: links to
// Debian's plugins, and the harness's cnifail.
func (c *Containerd) CNIBinDir() string { return filepath.Join(c.Dir, "cni-bin") }

// installCNIPlugins makes the daemon's CNI bin dir: Debian's plugins and
// the harness's cnifail, which breaks DEL on demand (FailCNIDel).
func (c *Containerd) installCNIPlugins() error {
	dir := c.CNIBinDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	plugins, _ := filepath.Glob("/usr/lib/cni/*")
	for _, p := range plugins {
		if err := os.Symlink(p, filepath.Join(dir, filepath.Base(p))); err != nil {
			return err
		}
	}
	_, err := buildStatic(context.Background(), c.root, dir, "cnifail")
	return err
}

func (c *Containerd) failMarker() string { return filepath.Join(c.Dir, "cni-fail-del") }

// FailCNIDel makes the CNI DEL of every pod network fail, or work again.
func (c *Containerd) FailCNIDel(fail bool) error {
	if !fail {
		return os.Remove(c.failMarker())
	}
	return os.WriteFile(c.failMarker(), nil, 0o644)
}

// Both configs keep every path inside Dir (including runc's state root, so
// two daemons never share /run/containerd/runc, and on 2.x the pods' network
// namespaces, which would otherwise sit in /var/run/netns), restrict oom_score_adj
// (the harness lacks CAP_SYS_RESOURCE), and pin the local pause image.
const config16 = `version = 2
root = "{{.Dir}}/root"
state = "{{.Dir}}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{{.Address}}"
[ttrpc]
  address = "{{.Address}}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{{.Dir}}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{.Pause}}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{{.Dir}}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{{.Dir}}/cni-bin"
    conf_dir = "{{.Dir}}/cni"
`

const config2 = `version = 3
root = "{{.Dir}}/root"
state = "{{.Dir}}/state"
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.erofs"]
[grpc]
  address = "{{.Address}}"
[ttrpc]
  address = "{{.Address}}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{{.Dir}}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{{.Pause}}"
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        Root = "{{.Dir}}/runc"{{if .Runc}}
        BinaryName = "{{.Runc}}"{{end}}
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{{.Dir}}/cni-bin"]
    conf_dir = "{{.Dir}}/cni"
`

// unifiedOnHost is where the host mounts its cgroup2 hierarchy beside the
// v1 ones: the hierarchy a unified flavor's runtime sees at /sys/fs/cgroup.
const unifiedOnHost = "/sys/fs/cgroup/unified"

// CgroupDir is the host's path of a container's cgroup, in the hierarchy
// of the v1 controller, or the unified one on a unified flavor.
func (c *Containerd) CgroupDir(controller, containerID string) string {
	if c.Flavor.Unified() {
		return filepath.Join(unifiedOnHost, "k8s.io", containerID)
	}
	return filepath.Join("/sys/fs/cgroup", controller, "k8s.io", containerID)
}

// Freeze freezes a container's cgroup from outside, as an operator or a
// stuck freezer would: through the v1 freezer, or cgroup.freeze on a
// unified flavor. thaw undoes it.
func (c *Containerd) Freeze(containerID string) (thaw func(), err error) {
	file, frozen, thawed := filepath.Join(c.CgroupDir("freezer", containerID), "freezer.state"), "FROZEN", "THAWED"
	if c.Flavor.Unified() {
		file, frozen, thawed = filepath.Join(c.CgroupDir("", containerID), "cgroup.freeze"), "1", "0"
	}
	if err := os.WriteFile(file, []byte(frozen), 0o644); err != nil {
		return nil, fmt.Errorf("freeze %s: %w", containerID, err)
	}
	return func() { os.WriteFile(file, []byte(thawed), 0o644) }, nil
}
