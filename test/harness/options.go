package harness

// Option changes how NewContainerd sets up a private containerd.
type Option func(*options)

// options are the settings Options change; the zero value is what the
// runtime-level tests use.
type options struct {
	cniConfList []byte
	sharedDir   bool
	cgroup2     bool
}

// WithCNIConfList installs a CNI network configuration list in the daemon's
// CNI conf_dir (plugins from /usr/lib/cni). Pods then get their own network
// namespace on that network, and the CRI plugin reports the network ready,
// which a kubelet needs before it calls its node Ready.
func WithCNIConfList(conflist []byte) Option {
	return func(o *options) { o.cniConfList = append([]byte(nil), conflist...) }
}

// WithSharedDir makes the daemon's directory a shared mount before the
// daemon starts, as a node's /run is under systemd: a pod that mounts it, or
// the network namespaces in it, with HostToContainer propagation then sees
// the runtime's later mounts and unmounts. It must happen before the first
// network namespace is made: made shared afterwards, the directory's copy
// of each namespace's bind mount keeps the namespace busy, and removing it
// fails with EBUSY.
func WithSharedDir() Option {
	return func(o *options) { o.sharedDir = true }
}

// WithUnifiedCgroups runs the daemon (2.x only), and so runc and its
// containers, in a mount namespace of its own whose /sys/fs/cgroup is a
// cgroup2 mount: a pure cgroup v2 node, as every current distribution has,
// on a host whose controllers are bound to v1 hierarchies. Only the
// controllers v1 left free are available there, so runc runs through
// unifiedrunc, which drops the resource settings of the others; the core of
// v2 (one directory per container, cgroup.freeze, cgroup.kill, private
// cgroup namespaces) is all there. Processes that should see the node as
// the daemon does enter its namespace (Containerd.Enter).
func WithUnifiedCgroups() Option {
	return func(o *options) { o.cgroup2 = true }
}
