package apiv1

import (
	"slices"
	"testing"
)

func TestSignalName(t *testing.T) {
	tests := []struct {
		name string
		n    int32
		want string
	}{
		{"A standard signal has its own name.", 15, "SIGTERM"},
		{"The last standard signal has its own name.", 31, "SIGSYS"},
		{"A signal glibc keeps for itself is named by its number.", 32, "SIG32"},
		{"The first real-time signal a program may use is SIGRTMIN.", 34, "SIGRTMIN"},
		{"Later real-time signals count from SIGRTMIN.", 64, "SIGRTMIN+30"},
		{"A number past the last signal is named by its number.", 65, "SIG65"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SignalName(tc.n); got != tc.want {
				t.Errorf("SignalName(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

func TestSignalSet(t *testing.T) {
	tests := []struct {
		name string
		mask uint64
		want []string
	}{
		{"An empty mask names nothing.", 0, nil},
		{"The mask /proc shows as 0000000000014002 is INT, TERM and CHLD.", 0x14002, []string{"SIGINT", "SIGTERM", "SIGCHLD"}},
		{"The top bit is the last real-time signal.", 1 << 63, []string{"SIGRTMIN+30"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SignalSet(tc.mask)
			if !slices.Equal(got, tc.want) {
				t.Errorf("SignalSet(%#x) = %v, want %v", tc.mask, got, tc.want)
			}
			if tc.mask&(1<<14) != 0 && !InSignalSet(got, 15) {
				t.Errorf("SIGTERM is not in %v", got)
			}
			if InSignalSet(got, 9) {
				t.Errorf("SIGKILL is in %v", got)
			}
		})
	}
}
