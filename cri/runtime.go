// Package cri observes a node's container runtime through the Container
// Runtime Interface and turns what it sees into graceline's lifecycle events.
//
// It is shaped like the kubelet's PLEG: a relist that diffs the runtime's
// state (relist.go), a GetContainerEvents stream where that is safe
// (stream.go), and one tracker that both feed (tracker.go), so that both
// paths yield the same events, once each, in lifecycle order.
package cri

import (
	"context"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	remote "k8s.io/cri-client/pkg"
)

// RuntimeService is the part of the CRI RuntimeService that graceline reads.
// It never calls anything that changes the runtime's state.
type RuntimeService interface {
	Version(ctx context.Context, apiVersion string) (*runtimeapi.VersionResponse, error)
	ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error)
	PodSandboxStatus(ctx context.Context, podSandboxID string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error)
	ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error)
	ContainerStatus(ctx context.Context, containerID string, verbose bool) (*runtimeapi.ContainerStatusResponse, error)
	GetContainerEvents(ctx context.Context, ch chan *runtimeapi.ContainerEventResponse, connected func(runtimeapi.RuntimeService_GetContainerEventsClient)) error
	Close(ctx context.Context) error
}

// Dial connects to the CRI endpoint (a unix:// address or a socket path).
// timeout bounds the connection and, as cri-client does, every later call, so
// a runtime that hangs cannot stall the agent.
func Dial(ctx context.Context, endpoint string, timeout time.Duration) (RuntimeService, error) {
	rs, err := remote.NewRemoteRuntimeServiceBuilder().
		WithEndpoint(endpoint).
		WithConnectionTimeout(timeout).
		WithTracerProvider(nil).
		Build(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to CRI endpoint %s: %w", endpoint, err)
	}
	return rs, nil
}
