package collector

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// serverTLS builds the TLS configuration of the gRPC listener, or nil when
// TLS is off. With a client CA, every client must present a certificate it
// signed.
func serverTLS(cfg Config) (*tls.Config, error) {
	if cfg.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("client CA file holds no PEM certificate")
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// httpTLS derives the HTTP listener's configuration: a client certificate
// is checked when given but not demanded at the handshake, so that health
// probes and Prometheus reach /healthz, /readyz and /metrics; the API
// handlers demand one themselves (requireClientCert).
func httpTLS(grpcTLS *tls.Config) *tls.Config {
	if grpcTLS == nil {
		return nil
	}
	tc := grpcTLS.Clone()
	if tc.ClientAuth == tls.RequireAndVerifyClientCert {
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc
}

// requireClientCert refuses requests without a verified client certificate
// when mutual TLS is on.
func requireClientCert(on bool, h http.Handler) http.Handler {
	if !on {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "a client certificate signed by the collector's client CA is required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
