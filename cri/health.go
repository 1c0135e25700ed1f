package cri

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// RelistHealth is the outcome of the observer's relists. It exists before
// the runtime is reached, so that readiness checks and stuck diagnosis can
// hold it from the start instead of waiting for the observer.
type RelistHealth struct {
	// state is relistUnknown before the first relist, then relistOK or
	// relistFailed.
	state   atomic.Int32
	lastErr atomic.Pointer[error]
}

const (
	relistUnknown int32 = iota
	relistOK
	relistFailed
)

// errNotConnected is the readiness error before any relist.
var errNotConnected = errors.New("container runtime not connected yet")

// LastError returns the last relist's error, nil when it succeeded or
// none ran yet.
func (h *RelistHealth) LastError() error {
	if p := h.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Ready says whether the last relist succeeded, and why not.
func (h *RelistHealth) Ready() error {
	switch h.state.Load() {
	case relistUnknown:
		return errNotConnected
	case relistFailed:
		return fmt.Errorf("last CRI relist failed: %w", h.LastError())
	}
	return nil
}

// record notes a relist's outcome and returns the state before it.
func (h *RelistHealth) record(err error) (was int32) {
	h.lastErr.Store(&err)
	if err != nil {
		return h.state.Swap(relistFailed)
	}
	return h.state.Swap(relistOK)
}
