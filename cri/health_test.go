package cri

import (
	"errors"
	"strings"
	"testing"
)

func TestRelistHealth(t *testing.T) {
	refused := errors.New("connection refused")
	tests := []struct {
		name      string
		relists   []error
		wantReady string // empty: ready
		wantLast  error
	}{
		{"before any relist it is not ready", nil, "not connected yet", nil},
		{"a working relist makes it ready", []error{nil}, "", nil},
		{"a failing relist says why", []error{nil, refused}, "last CRI relist failed: connection refused", refused},
		{"a relist that works again clears the error", []error{refused, nil}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h RelistHealth
			for _, err := range tt.relists {
				h.record(err)
			}
			err := h.Ready()
			if (err == nil) != (tt.wantReady == "") || (err != nil && !strings.Contains(err.Error(), tt.wantReady)) {
				t.Errorf("Ready() = %v, want %q", err, tt.wantReady)
			}
			if got := h.LastError(); !errors.Is(got, tt.wantLast) || (got == nil) != (tt.wantLast == nil) {
				t.Errorf("LastError() = %v, want %v", got, tt.wantLast)
			}
		})
	}
}
