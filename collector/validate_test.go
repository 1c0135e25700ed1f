package collector

import (
	"testing"
	"time"

	"github.com/graceline/graceline/collector/ingest"
	"github.com/graceline/graceline/internal/setting"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name      string
		change    func(*Config)
		wantField string
	}{
		{"The defaults with a data directory are valid.", func(*Config) {}, ""},
		{"A missing data directory is refused.", func(c *Config) { c.DataDir = "" }, "DataDir"},
		{"A negative retention is refused, not taken for the default.", func(c *Config) { c.Retention = -time.Hour }, "Retention"},
		{"A purge interval of zero is refused.", func(c *Config) { c.PurgeInterval = 0 }, "PurgeInterval"},
		{"A certificate without its key is refused.", func(c *Config) { c.CertFile = "cert.pem" }, "KeyFile"},
		{"A key without its certificate is refused.", func(c *Config) { c.KeyFile = "key.pem" }, "CertFile"},
		{"A client CA without TLS is refused.", func(c *Config) { c.ClientCAFile = "ca.pem" }, "CertFile"},
		{"A gRPC address without a port is refused.", func(c *Config) { c.GRPCAddress = "localhost" }, "GRPCAddress"},
		{"An HTTP address without a port is refused.", func(c *Config) { c.HTTPAddress = "7071" }, "HTTPAddress"},
		{"Too few connections are refused.", func(c *Config) { c.MaxConnections = 3 }, "MaxConnections"},
		{"No agent streams are refused.", func(c *Config) { c.Ingest.MaxStreams = -1 }, "Ingest.MaxStreams"},
		{"A batch smaller than one event is refused.", func(c *Config) { c.Ingest.MaxBatchBytes = 1000 }, "Ingest.MaxBatchBytes"},
		{"A clock skew of a year is refused.", func(c *Config) { c.Ingest.MaxClockSkew = 365 * 24 * time.Hour }, "Ingest.MaxClockSkew"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{DataDir: t.TempDir(), GRPCAddress: DefaultGRPCAddress, HTTPAddress: DefaultHTTPAddress,
				Retention: DefaultRetention, PurgeInterval: DefaultPurgeInterval, MaxConnections: DefaultMaxConnections, Ingest: ingest.DefaultLimits()}
			tt.change(&c)
			err := c.Validate()
			if got := setting.NameOf(err); got != tt.wantField || (err == nil) != (tt.wantField == "") {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.wantField)
			}
		})
	}
}
