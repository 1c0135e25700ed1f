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
		{"A ring buffer of a power of two within the bounds is valid.", Config{RatePerSec: 1, Burst: 1, RingBytes: 1 << 22}, ""},
		{"A ring buffer that is not a power of two is refused, as the kernel would.", Config{RatePerSec: 1, Burst: 1, RingBytes: 3 << 20}, "RingBytes"},
		{"A ring buffer under the minimum is refused.", Config{RatePerSec: 1, Burst: 1, RingBytes: 4096}, "RingBytes"},
		{"A ring buffer over the maximum is refused.", Config{RatePerSec: 1, Burst: 1, RingBytes: 1 << 30}, "RingBytes"},
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
