package otlp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc/credentials"
)

// DefaultTimeout bounds one export call.
const DefaultTimeout = 10 * time.Second

// Config says where traces go and how.
type Config struct {
	// Endpoint is grpc://HOST:PORT (OTLP/gRPC), or http://HOST:PORT[/PATH]
	// or https://HOST:PORT[/PATH] (OTLP/HTTP; the path defaults to
	// /v1/traces).
	Endpoint string
	// Insecure sends in plain text: required for http://, and what makes
	// grpc:// skip TLS. Without it, grpc:// and https:// use TLS.
	Insecure bool
	// CAFile, when set, is the PEM bundle the backend's certificate is
	// checked against instead of the system's roots.
	CAFile string
	// Headers are sent with every export (an API key, a tenant).
	Headers map[string]string
	// Timeout bounds one export call; zero means DefaultTimeout.
	Timeout time.Duration
	// PollInterval is how often the store is read for new terminations;
	// zero means DefaultPollInterval.
	PollInterval time.Duration
	// FromCluster: the collector runs the cluster side, whose joined summary
	// is a pod's final one (outcome.Final).
	FromCluster bool
}

// ErrInvalid wraps every configuration error.
var ErrInvalid = errors.New("invalid OTLP export setting")

// Validate checks the endpoint and its transport security.
func (c Config) Validate() error {
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return fmt.Errorf("%w: endpoint %q: %v", ErrInvalid, c.Endpoint, err)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: endpoint %q names no host: give grpc://HOST:PORT, http://HOST:PORT or https://HOST:PORT", ErrInvalid, c.Endpoint)
	}
	switch u.Scheme {
	case "grpc":
		if u.Path != "" && u.Path != "/" {
			return fmt.Errorf("%w: endpoint %q: an OTLP/gRPC endpoint has no path", ErrInvalid, c.Endpoint)
		}
	case "http":
		if !c.Insecure {
			return fmt.Errorf("%w: endpoint %q sends traces in plain text: use https://, or ask for it with --otlp-insecure", ErrInvalid, c.Endpoint)
		}
	case "https":
		if c.Insecure {
			return fmt.Errorf("%w: endpoint %q is https:// but --otlp-insecure asks for plain text", ErrInvalid, c.Endpoint)
		}
	default:
		return fmt.Errorf("%w: endpoint %q: the scheme must be grpc, http or https", ErrInvalid, c.Endpoint)
	}
	if c.Insecure && c.CAFile != "" {
		return fmt.Errorf("%w: a CA file is for TLS, and --otlp-insecure turns TLS off", ErrInvalid)
	}
	if c.Timeout < 0 || c.PollInterval < 0 {
		return fmt.Errorf("%w: durations must not be negative", ErrInvalid)
	}
	return nil
}

// NewClient returns the SDK's OTLP trace exporter for c, its own retries
// off: the export loop retries from the store, so that a failure is seen
// and the cursor stays where it is. It does not connect yet.
func NewClient(ctx context.Context, c Config) (sdktrace.SpanExporter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(c.Endpoint)
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	var tlsConfig *tls.Config
	if !c.Insecure {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read OTLP CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("read OTLP CA file %s: no PEM certificate in it", c.CAFile)
			}
			tlsConfig.RootCAs = pool
		}
	}
	if u.Scheme == "grpc" {
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithEndpoint(u.Host),
			otlptracegrpc.WithTimeout(timeout),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}),
		}
		if len(c.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(c.Headers))
		}
		if tlsConfig == nil {
			opts = append(opts, otlptracegrpc.WithInsecure())
		} else {
			opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsConfig)))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("create OTLP/gRPC exporter: %w", err)
		}
		return exp, nil
	}
	path := u.Path
	if path == "" || path == "/" {
		path = "/v1/traces"
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpoint(u.Host),
		otlptracehttp.WithURLPath(path),
		otlptracehttp.WithTimeout(timeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
	}
	if len(c.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(c.Headers))
	}
	if tlsConfig == nil {
		opts = append(opts, otlptracehttp.WithInsecure())
	} else {
		opts = append(opts, otlptracehttp.WithTLSClientConfig(tlsConfig))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create OTLP/HTTP exporter: %w", err)
	}
	return exp, nil
}
