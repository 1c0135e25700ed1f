package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// network is the node's pod network: a Linux bridge of its own name and a
// host-local IPAM range, through Debian's CNI plugins. The bridge holds the
// range's first address, the node's own (gateway), as a node's interface
// holds its IP: the API server and the kubelet listen on it, pods reach
// Services and the cluster DNS through it, and the kubelet and the API
// server reach pods' ports from it. It is made before anything else, so
// that those can bind to it. Nothing routes the range beyond this host.
type network struct {
	name, bridge, subnet, gateway, ipamDir string
}

// confList returns the CNI configuration list for the private containerd:
// each pod gets an address on the bridge and a default route through the
// node's address, which is how its packets to a Service's ClusterIP reach
// kube-proxy's rules. The bridge plugin turns on IP forwarding for that
// (net.ipv4.ip_forward, put back at teardown); it masquerades nothing.
func (n network) confList() ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       n.name,
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      n.bridge,
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": false,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": n.subnet, "gateway": n.gateway}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": n.ipamDir,
			},
		}},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode CNI config: %w", err)
	}
	return b, nil
}

// createBridge makes the bridge with the node's address, up.
func (n network) createBridge() error {
	prefix := n.subnet[strings.LastIndex(n.subnet, "/"):]
	for _, args := range [][]string{
		{"link", "add", "name", n.bridge, "type", "bridge"},
		{"addr", "add", n.gateway + prefix, "dev", n.bridge},
		{"link", "set", n.bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// bridgeExists reports whether the bridge is there.
func (n network) bridgeExists() bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", n.bridge))
	return err == nil
}

// ports lists the interfaces still attached to the bridge: veths whose pod
// network was not torn down.
func (n network) ports() []string {
	entries, _ := os.ReadDir(filepath.Join("/sys/class/net", n.bridge, "brif"))
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// removeBridge deletes the bridge, which the CNI plugin never deletes.
func (n network) removeBridge() error {
	if !n.bridgeExists() {
		return nil
	}
	if out, err := exec.Command("ip", "link", "delete", n.bridge).CombinedOutput(); err != nil {
		return fmt.Errorf("delete bridge %s: %w: %s", n.bridge, err, out)
	}
	return nil
}
