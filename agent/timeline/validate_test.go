package timeline

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
		{"No slack at all is accepted.", func(c *Config) { c.Slack = 0 }, ""},
		{"A negative slack is refused.", func(c *Config) { c.Slack = -time.Second }, "Slack"},
		{"Stuck reports repeated without pause are refused.", func(c *Config) { c.StuckEvery = 0 }, "StuckEvery"},
		{"A negative settle time is refused.", func(c *Config) { c.Settle = -time.Second }, "Settle"},
		{"A settle time above the maximum is refused.", func(c *Config) { c.Settle = MaxSettle + 1 }, "Settle"},
		{"A tick of zero is refused.", func(c *Config) { c.Tick = 0 }, "Tick"},
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
