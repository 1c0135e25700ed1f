package cri

import (
	"context"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// StopSignals answers which signal the runtime will stop a container
// with, from its CRI status: the pod's stop signal or the image's
// STOPSIGNAL where the runtime reports one.
type StopSignals struct {
	RS RuntimeService
}

// StopSignal returns the container's stop signal's number, or 0 when the
// runtime does not say (an older runtime, a failed call): the runtime's
// default, SIGTERM.
func (s StopSignals) StopSignal(ctx context.Context, containerID string) int32 {
	if s.RS == nil {
		return 0
	}
	st, err := s.RS.ContainerStatus(ctx, containerID, false)
	if err != nil || st.GetStatus().GetStopSignal() == runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT {
		return 0
	}
	n, _ := apiv1.SignalNumber(strings.TrimPrefix(st.GetStatus().GetStopSignal().String(), "SIGNAL_"))
	return n
}
