package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// network is the node's pod network: a Linux bridge of its own name and a
// host-local IPAM range, through Debian's CNI plugins. The bridge has no
// address and is no gateway, so the plugin neither changes the host's
// routes nor turns on IP forwarding; pods get their own network namespace
// with an address on the bridge, and nothing leaves the node.
type network struct {
	name, bridge, subnet, ipamDir string
}

// confList returns the CNI configuration list for the private containerd.
func (n network) confList() ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       n.name,
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      n.bridge,
			"isGateway":   false,
			"ipMasq":      false,
			"hairpinMode": false,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": n.subnet}}},
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

// removeBridge deletes the bridge, which the CNI plugin creates on the first
// pod and never deletes.
func (n network) removeBridge() error {
	if !n.bridgeExists() {
		return nil
	}
	if out, err := exec.Command("ip", "link", "delete", n.bridge).CombinedOutput(); err != nil {
		return fmt.Errorf("delete bridge %s: %w: %s", n.bridge, err, out)
	}
	return nil
}
