// Package collector wires graceline's central collector together: the
// SQLite store, the ingest and query gRPC services, the HTTP API, health
// and metrics endpoints, token authentication and optional (mutual) TLS,
// and the background purge of expired events.
package collector

import (
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graceline/graceline/collector/aggapi"
	"github.com/graceline/graceline/collector/ingest"
	"github.com/graceline/graceline/collector/kube"
	"github.com/graceline/graceline/collector/otlp"
	"github.com/graceline/graceline/collector/outcome"
)

// Defaults for Config.
const (
	DefaultRetention     = 7 * 24 * time.Hour
	DefaultPurgeInterval = 10 * time.Minute
	DefaultGRPCAddress   = ":7070"
	DefaultHTTPAddress   = ":7071"
)

// Config is everything the collector needs to run.
type Config struct {
	// DataDir holds the database and, unless TokenFile says otherwise, the
	// token file.
	DataDir string
	// GRPCAddress serves the Ingest and Query services.
	GRPCAddress string
	// HTTPAddress serves the HTTP API, /metrics, /healthz and /readyz.
	HTTPAddress string
	// TokenFile lists the accepted tokens. Empty means DataDir/tokens,
	// created with fresh tokens when missing.
	TokenFile string
	// TLS, when CertFile is set, serves both listeners over TLS; with
	// ClientCAFile, clients must also present a certificate it signed.
	CertFile, KeyFile, ClientCAFile string
	// Retention is how long events are kept, by their own time.
	Retention time.Duration
	// PurgeInterval is how often expired events are deleted.
	PurgeInterval time.Duration
	// Ingest bounds what agents may send; zero fields mean the defaults.
	Ingest ingest.Limits
	// MaxConnections bounds the open connections of each listener.
	MaxConnections int
	// times close idle, old and slow connections; zero means the defaults.
	times connTimes
	// MetricsMaxNamespaces caps the namespaces that get series of their own
	// in the outcome metrics; later ones share namespace="_other". Zero
	// means outcome.DefaultMaxNamespaces.
	MetricsMaxNamespaces int
	// Registry, when set, is where the collector registers its metrics and
	// what /metrics serves; nil means a new one. Tests read what was
	// registered from it.
	Registry *prometheus.Registry
	// Kubernetes, when set, runs the cluster side: watches of the API that
	// add delete requests, endpoints, finalizers and pod removals.
	Kubernetes *kube.Config
	// AgentTokens, when set, also admits agents by ServiceAccount tokens
	// bound to their node, checked by TokenReview; such an agent writes
	// only its node's events. Static agent tokens of TokenFile stay valid
	// beside them.
	AgentTokens *AgentTokens
	// Aggregated, when set, serves the terminations as the graceline.dev
	// aggregated API behind the cluster's API server. An empty CertDir
	// means DataDir/apiserver-certs.
	Aggregated *aggapi.Config
	// OTLP, when set, exports every finished termination (and each stuck
	// pod, at its first stuck report) as a trace to an OTLP backend.
	OTLP *otlp.Config
}

// AgentTokens says which ServiceAccount tokens are agents' and how to
// review them.
type AgentTokens struct {
	// ServiceAccount is the agents' ServiceAccount, "NAMESPACE/NAME".
	ServiceAccount string
	// Audience is what their tokens must be issued for; empty means
	// auth.DefaultAgentAudience.
	Audience string
	// Kubeconfig reaches the API server for the TokenReviews; empty means
	// the pod's ServiceAccount.
	Kubeconfig string
}

// setDefaults fills in what was left unset, then checks the result.
func (c *Config) setDefaults() error {
	if c.GRPCAddress == "" {
		c.GRPCAddress = DefaultGRPCAddress
	}
	if c.HTTPAddress == "" {
		c.HTTPAddress = DefaultHTTPAddress
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.PurgeInterval == 0 {
		c.PurgeInterval = DefaultPurgeInterval
	}
	d := ingest.DefaultLimits()
	if c.Ingest.MaxBatchRecords == 0 {
		c.Ingest.MaxBatchRecords = d.MaxBatchRecords
	}
	if c.Ingest.MaxBatchBytes == 0 {
		c.Ingest.MaxBatchBytes = d.MaxBatchBytes
	}
	if c.Ingest.MaxStreams == 0 {
		c.Ingest.MaxStreams = d.MaxStreams
	}
	if c.Ingest.MaxClockSkew == 0 {
		c.Ingest.MaxClockSkew = d.MaxClockSkew
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MetricsMaxNamespaces == 0 {
		c.MetricsMaxNamespaces = outcome.DefaultMaxNamespaces
	}
	if c.Aggregated != nil && c.Aggregated.CertDir == "" {
		c.Aggregated.CertDir = filepath.Join(c.DataDir, "apiserver-certs")
	}
	if c.times == (connTimes{}) {
		c.times = defaultConnTimes
	}
	return c.Validate()
}

func (c *Config) dbPath() string { return filepath.Join(c.DataDir, "graceline.db") }

// defaultTokenFile is where tokens live when no token file is given.
func (c *Config) defaultTokenFile() string { return filepath.Join(c.DataDir, "tokens") }
