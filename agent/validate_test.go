package agent

import (
	"testing"
	"time"

	"github.com/graceline/graceline/agent/kernel"
	"github.com/graceline/graceline/agent/release"
	"github.com/graceline/graceline/agent/sink"
	"github.com/graceline/graceline/agent/timeline"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/signals"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/setting"
)

// validConfig is the configuration the agent's flags give by default.
func validConfig() Config {
	return Config{
		CRIEndpoint: "unix:///run/containerd/containerd.sock",
		NodeName:    "node-1",
		CRITimeout:  5 * time.Second,
		Observer:    cri.DefaultConfig(),
		Timeline:    timeline.DefaultConfig(),
		Release:     release.Config{Period: 200 * time.Millisecond, Recheck: 10 * time.Second, GiveUp: 10 * time.Minute},
		Kernel: kernel.Config{
			Probe:   kernel.ProbeConfig{Signals: signals.DefaultSignals, Config: probe.Config{RatePerSec: 1000, Burst: 2000}},
			HostPID: 1, AttributionWindow: 2 * time.Second, RemovedTTL: 5 * time.Second,
		},
		Delivery: sink.DeliveryConfig{SpoolDir: "/var/lib/graceline/spool", SyncInterval: time.Second},
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name      string
		change    func(*Config)
		wantField string
	}{
		{"The defaults are valid.", func(*Config) {}, ""},
		{"A collector with a token file is valid.", func(c *Config) {
			c.Delivery.Collector.Address, c.Delivery.Collector.TokenFile = "collector:7070", "/token"
		}, ""},
		{"A collector without a token file is refused.", func(c *Config) { c.Delivery.Collector.Address = "collector:7070" }, "Delivery.Collector.TokenFile"},
		{"A negative spool bound is refused.", func(c *Config) { c.Delivery.SpoolMaxBytes = -1 }, "Delivery.SpoolMaxBytes"},
		{"A spool bound below the spool's minimum is refused.", func(c *Config) { c.Delivery.SpoolMaxBytes = 1000 }, "Delivery.SpoolMaxBytes"},
		{"A sync interval of zero is refused.", func(c *Config) { c.Delivery.SyncInterval = 0 }, "Delivery.SyncInterval"},
		{"A relist period of zero is refused by the observer's rule.", func(c *Config) { c.Observer.RelistPeriod = 0 }, "Observer.RelistPeriod"},
		{"A negative stuck slack is refused by the timeline's rule.", func(c *Config) { c.Timeline.Slack = -time.Second }, "Timeline.Slack"},
		{"A release poll period of zero is refused by the watcher's rule.", func(c *Config) { c.Release.Period = 0 }, "Release.Period"},
		{"Signal 999 is refused by the probe's rule.", func(c *Config) { c.Kernel.Probe.Signals = append(c.Kernel.Probe.Signals, 999) }, "Kernel.Probe.Signals"},
		{"A host pid of zero is refused.", func(c *Config) { c.Kernel.HostPID = 0 }, "Kernel.HostPID"},
		{"A negative attribution window is refused.", func(c *Config) { c.Kernel.AttributionWindow = -time.Second }, "Kernel.AttributionWindow"},
		{"A CRI timeout of zero is refused.", func(c *Config) { c.CRITimeout = 0 }, "CRITimeout"},
		{"An empty node name is refused.", func(c *Config) { c.NodeName = "" }, "NodeName"},
		{"A negative event queue bound is refused.", func(c *Config) { c.Pipeline.QueueLen = -1 }, "Pipeline.QueueLen"},
		{"A metrics address without a port is refused.", func(c *Config) { c.MetricsAddress = "localhost" }, "MetricsAddress"},
		{"Profiles are served on the metrics address.", func(c *Config) { c.MetricsAddress, c.Pprof = ":9090", true }, ""},
		{"Profiles without a metrics address are refused.", func(c *Config) { c.Pprof = true }, "Pprof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			if got := setting.NameOf(err); got != tt.wantField || (err == nil) != (tt.wantField == "") {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.wantField)
			}
		})
	}
}
