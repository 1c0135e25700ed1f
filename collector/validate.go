package collector

import (
	"fmt"
	"net"
	"time"

	"github.com/graceline/graceline/collector/auth"
	"github.com/graceline/graceline/internal/setting"
)

// Bounds of the collector's durations. Events kept less than
// MinRetention would be gone before anyone asked about them; a purge
// more often than MinPurgeInterval only spends the database's time.
const (
	MinRetention     = time.Minute
	MinPurgeInterval = 10 * time.Millisecond
	MaxPurgeInterval = 24 * time.Hour
	// MinConnections leaves room for the agents of a small cluster and a
	// few readers on each listener.
	MinConnections = 16
)

// Validate checks every setting and returns the first one out of bounds
// as a setting error named by its field ("Retention").
func (c Config) Validate() error {
	switch {
	case c.DataDir == "":
		return setting.Invalid("DataDir", "", "a directory for the database")
	case c.Retention < MinRetention:
		return setting.Invalid("Retention", c.Retention, "at least "+MinRetention.String())
	case c.PurgeInterval < MinPurgeInterval || c.PurgeInterval > MaxPurgeInterval:
		return setting.Invalid("PurgeInterval", c.PurgeInterval, "at least "+MinPurgeInterval.String()+" and at most "+MaxPurgeInterval.String())
	case c.CertFile != "" && c.KeyFile == "":
		return setting.Invalid("KeyFile", "", "the TLS certificate's private key, since a certificate is given")
	case c.KeyFile != "" && c.CertFile == "":
		return setting.Invalid("CertFile", "", "the certificate of the TLS key given")
	case c.ClientCAFile != "" && c.CertFile == "":
		return setting.Invalid("CertFile", "", "a certificate and key to serve TLS, which client certificates (mutual TLS) need")
	}
	for _, a := range []struct{ name, addr string }{{"GRPCAddress", c.GRPCAddress}, {"HTTPAddress", c.HTTPAddress}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return setting.Invalid(a.name, a.addr, `a listen address such as ":7070" or "127.0.0.1:7070"`)
		}
	}
	if a := c.Aggregated; a != nil {
		if _, _, err := net.SplitHostPort(a.Address); err != nil {
			return setting.Invalid("Aggregated.Address", a.Address, `a listen address such as ":7443"`)
		}
		if (a.CertFile == "") != (a.KeyFile == "") {
			return setting.Invalid("Aggregated.CertFile", a.CertFile, "given together with its key, or both left out for a self-signed certificate")
		}
	}
	if a := c.AgentTokens; a != nil {
		if err := (auth.NodeTokensConfig{ServiceAccount: a.ServiceAccount}).Validate(); err != nil {
			return setting.Invalid("AgentTokens.ServiceAccount", a.ServiceAccount, "NAMESPACE/NAME of the agents' ServiceAccount")
		}
	}
	if c.MaxConnections < MinConnections {
		return setting.Invalid("MaxConnections", c.MaxConnections, fmt.Sprintf("at least %d", MinConnections))
	}
	if c.MetricsMaxNamespaces < 0 {
		return setting.Invalid("MetricsMaxNamespaces", c.MetricsMaxNamespaces, "at least 1 (0 means the default)")
	}
	if err := c.Ingest.Validate(); err != nil {
		return setting.In("Ingest", err)
	}
	if c.OTLP != nil {
		if err := c.OTLP.Validate(); err != nil {
			return err
		}
	}
	// Kubernetes is checked by kube.New, once its defaults are filled in.
	return nil
}
