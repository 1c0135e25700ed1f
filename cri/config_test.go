package cri

import (
	"testing"
	"time"

	"github.com/graceline/graceline/internal/setting"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name      string
		change    func(*Config)
		wantField string
	}{
		{"The defaults are valid.", func(*Config) {}, ""},
		{"A relist period of zero would relist without pause.", func(c *Config) { c.RelistPeriod = 0 }, "RelistPeriod"},
		{"A negative relist period is refused.", func(c *Config) { c.RelistPeriod = -time.Second }, "RelistPeriod"},
		{"A relist period below the minimum is refused.", func(c *Config) { c.RelistPeriod = MinRelistPeriod - 1 }, "RelistPeriod"},
		{"The minimum relist period is accepted.", func(c *Config) { c.RelistPeriod = MinRelistPeriod }, ""},
		{"A relist period above the maximum is refused.", func(c *Config) { c.RelistPeriod = MaxRelistPeriod + 1 }, "RelistPeriod"},
		{"A safety relist period of zero is refused.", func(c *Config) { c.SafetyRelistPeriod = 0 }, "SafetyRelistPeriod"},
		{"A safety relist period above the maximum is refused.", func(c *Config) { c.SafetyRelistPeriod = MaxSafetyRelistPeriod + 1 }, "SafetyRelistPeriod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			if got := setting.NameOf(err); got != tt.wantField || (err == nil) != (tt.wantField == "") {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.wantField)
			}
		})
	}
}
