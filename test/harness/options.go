package harness

// Option changes how NewContainerd sets up a private containerd.
type Option func(*options)

// options are the settings Options change; the zero value is what the
// runtime-level tests use.
type options struct {
	cniConfList []byte
}

// WithCNIConfList installs a CNI network configuration list in the daemon's
// CNI conf_dir (plugins from /usr/lib/cni). Pods then get their own network
// namespace on that network, and the CRI plugin reports the network ready,
// which a kubelet needs before it calls its node Ready.
func WithCNIConfList(conflist []byte) Option {
	return func(o *options) { o.cniConfList = append([]byte(nil), conflist...) }
}
