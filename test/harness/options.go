package harness

// Option changes how NewContainerd sets up a private containerd.
type Option func(*options)

// options are the settings Options change; the zero value is what the
// runtime-level tests use.
type options struct {
	cniConfList []byte
	sharedDir   bool
	// cgroup2 is set for Containerd2Unified.
	cgroup2 bool
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
