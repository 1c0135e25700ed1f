package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// State describes a by-hand cluster (make cluster-up) to the commands that
// use or stop it later.
type State struct {
	// PID is the process that owns the cluster; SIGTERM makes it tear down.
	PID        int    `json:"pid"`
	Dir        string `json:"dir"`
	Kubeconfig string `json:"kubeconfig"`
	Node       string `json:"node"`
	// CRIEndpoint is the node containerd's socket, for graceline-agent.
	CRIEndpoint string    `json:"cri_endpoint"`
	Started     time.Time `json:"started"`
}

// State returns the cluster's State, owned by the calling process.
func (c *Cluster) State() State {
	return State{PID: os.Getpid(), Dir: c.Dir, Kubeconfig: c.Kubeconfig, Node: c.NodeName, CRIEndpoint: c.Containerd.Endpoint(), Started: time.Now()}
}

// WriteState writes s to path atomically, so a reader sees all or nothing.
func WriteState(path string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// ReadState reads a state file written by WriteState.
func ReadState(path string) (State, error) {
	var s State
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decode state %s: %w", path, err)
	}
	return s, nil
}
