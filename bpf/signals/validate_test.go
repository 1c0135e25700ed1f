package signals

import (
	"syscall"
	"testing"

	"github.com/graceline/graceline/internal/setting"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantField string
	}{
		{"The default signals are valid.", Config{Signals: DefaultSignals}, ""},
		{"No signals means the defaults.", Config{}, ""},
		{"The highest real-time signal that fits the mask is accepted.", Config{Signals: []syscall.Signal{MaxSignal}}, ""},
		{"Signal 0 is refused.", Config{Signals: []syscall.Signal{0}}, "Signals"},
		{"Signal 64 does not fit the mask.", Config{Signals: []syscall.Signal{64}}, "Signals"},
		{"Signal 999 is refused.", Config{Signals: []syscall.Signal{syscall.SIGTERM, 999}}, "Signals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if got := setting.NameOf(err); got != tt.wantField || (err == nil) != (tt.wantField == "") {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.wantField)
			}
		})
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    syscall.Signal
		wantErr bool
	}{
		{"A bare name is read.", "TERM", syscall.SIGTERM, false},
		{"A name with its prefix is read.", "SIGKILL", syscall.SIGKILL, false},
		{"Case does not matter.", "sigusr1", syscall.SIGUSR1, false},
		{"A number is read as is.", "34", 34, false},
		{"An unknown name is refused.", "BOGUS", 0, true},
		{"An empty name is refused.", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSignal(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseSignal(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
