package kube

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
		{"A stuck-after of zero is refused.", func(c *Config) { c.StuckAfter = 0 }, "StuckAfter"},
		{"A negative stuck-every is refused.", func(c *Config) { c.StuckEvery = -time.Second }, "StuckEvery"},
		{"A negative final wait is refused.", func(c *Config) { c.FinalWait = -time.Second }, "FinalWait"},
		{"A final wait above the maximum is refused.", func(c *Config) { c.FinalWait = MaxClusterWait + 1 }, "FinalWait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			c.setDefaults()
			tt.change(&c)
			err := c.Validate()
			if got := setting.NameOf(err); got != tt.wantField || (err == nil) != (tt.wantField == "") {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.wantField)
			}
		})
	}
}
