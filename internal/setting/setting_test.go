package setting

import (
	"errors"
	"testing"
	"time"
)

func TestError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"A duration reads as Go prints it.", Invalid("RelistPeriod", time.Duration(0), "more than 0"), "RelistPeriod 0s: want more than 0"},
		{"A string is quoted.", Invalid("Mode", "maybe", "on, off or auto"), `Mode "maybe": want on, off or auto`},
		{"An empty string reads as not given.", Invalid("DataDir", "", "a directory"), "DataDir not given: want a directory"},
		{"In prefixes the enclosing field.", In("Observer", Invalid("RelistPeriod", time.Second, "x")), "Observer.RelistPeriod 1s: want x"},
		{"In nests.", In("Kernel", In("Probe", Invalid("Burst", 0, "at least 1"))), "Kernel.Probe.Burst 0: want at least 1"},
		{"In passes other errors through.", In("Observer", errors.New("plain")), "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if In("Observer", nil) != nil {
		t.Error("In turned nil into an error")
	}
}
