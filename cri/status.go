package cri

import (
	"encoding/json"
	"fmt"
)

// VerboseInfo is what graceline reads from the "info" JSON that containerd
// puts in a verbose ContainerStatus or PodSandboxStatus. CRI-O fills the
// same field with a different shape, so every field is optional.
type VerboseInfo struct {
	Pid int32
	// CgroupsPath is the OCI spec's linux.cgroupsPath: a path below each
	// hierarchy with the cgroupfs driver, "slice:prefix:name" with systemd.
	CgroupsPath string
	// NetNS is the network namespace path of a sandbox with its own network.
	NetNS string
}

type verboseJSON struct {
	Pid         int32 `json:"pid"`
	RuntimeSpec *struct {
		Linux *struct {
			CgroupsPath string `json:"cgroupsPath"`
			Namespaces  []struct {
				Type string `json:"type"`
				Path string `json:"path"`
			} `json:"namespaces"`
		} `json:"linux"`
	} `json:"runtimeSpec"`
}

// ParseVerboseInfo extracts a VerboseInfo from a verbose status reply. It
// returns the zero value when the runtime gave no info.
func ParseVerboseInfo(info map[string]string) (VerboseInfo, error) {
	raw, ok := info["info"]
	if !ok {
		return VerboseInfo{}, nil
	}
	var v verboseJSON
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return VerboseInfo{}, fmt.Errorf("parse verbose status info: %w", err)
	}
	if v.Pid < 0 {
		return VerboseInfo{}, fmt.Errorf("parse verbose status info: negative pid %d", v.Pid)
	}
	out := VerboseInfo{Pid: v.Pid}
	if v.RuntimeSpec != nil && v.RuntimeSpec.Linux != nil {
		out.CgroupsPath = v.RuntimeSpec.Linux.CgroupsPath
		for _, ns := range v.RuntimeSpec.Linux.Namespaces {
			if ns.Type == "network" {
				out.NetNS = ns.Path
			}
		}
	}
	return out, nil
}
