package probe

import (
	"testing"

	"github.com/graceline/graceline/internal/setting"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantField string
	}{
		{"A rate limit with a burst is valid.", Config{RatePerSec: 1, Burst: 1}, ""},
		{"A rate limit of zero would drop every event.", Config{Burst: 1}, "RatePerSec"},
		{"A burst of zero would drop every event.", Config{RatePerSec: 1}, "Burst"},
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
