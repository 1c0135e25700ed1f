package release

import (
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Period: 200 * time.Millisecond, Recheck: 10 * time.Second, GiveUp: 10 * time.Minute}
	cases := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"the defaults are accepted", func(*Config) {}, true},
		{"a zero poll period is refused", func(c *Config) { c.Period = 0 }, false},
		{"a poll period above the bound is refused", func(c *Config) { c.Period = 2 * MaxPeriod }, false},
		{"a zero recheck period is refused", func(c *Config) { c.Recheck = 0 }, false},
		{"a recheck period above the bound is refused", func(c *Config) { c.Recheck = 2 * MaxPeriod }, false},
		{"a zero give-up is refused", func(c *Config) { c.GiveUp = 0 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.change(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
