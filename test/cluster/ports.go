package cluster

import (
	"fmt"
	"net"
)

// freePorts returns n distinct TCP ports free on 127.0.0.1. Every component
// listens on its own port, on loopback or on its cluster's node address, so
// that two clusters (a test run and a by-hand cluster) can run side by side.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
