package cri

import (
	"encoding/json"
	"fmt"
)

// verboseInfo is the part of containerd's verbose ContainerStatus "info" JSON
// that graceline reads. CRI-O fills the same field with a different shape, so
// every field is optional.
type verboseInfo struct {
	Pid int32 `json:"pid"`
}

// PidFromInfo extracts the container's init PID from a verbose status reply.
// It returns 0 when the runtime gave none (the container is not running, or
// the runtime does not put it there).
func PidFromInfo(info map[string]string) (int32, error) {
	raw, ok := info["info"]
	if !ok {
		return 0, nil
	}
	var vi verboseInfo
	if err := json.Unmarshal([]byte(raw), &vi); err != nil {
		return 0, fmt.Errorf("parse verbose container info: %w", err)
	}
	if vi.Pid < 0 {
		return 0, fmt.Errorf("parse verbose container info: negative pid %d", vi.Pid)
	}
	return vi.Pid, nil
}
