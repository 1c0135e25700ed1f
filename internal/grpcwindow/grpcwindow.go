// Package grpcwindow holds the flow-control setting of the agent's gRPC
// connections.
package grpcwindow

import "google.golang.org/grpc"

// Static fixes a connection's flow-control windows at HTTP/2's default
// size. gRPC otherwise estimates the link's bandwidth-delay product by
// sending a PING for each message that arrives after a quiet spell, and
// reading the peer's answer. That pays on a long, fat link with large
// replies; on a connection that receives a trickle of small messages, as
// the agent's event stream and the collector's acknowledgements are, it is
// a write and a read more for each message.
func Static() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithInitialWindowSize(windowBytes), grpc.WithInitialConnWindowSize(windowBytes)}
}

// windowBytes is HTTP/2's default window, the smallest gRPC takes as a
// static one.
const windowBytes = 64 << 10
