package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
)

// httpLimits bound what one client of the agent's HTTP server can hold.
// The server is reachable by anything on the node's network, and a client
// that opens connections and sends nothing, or announces a body it never
// sends, must not keep descriptors and goroutines forever.
type httpLimits struct {
	// ReadHeaderTimeout bounds reading a request's headers, and
	// ReadTimeout the whole request, body included.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// WriteTimeout bounds writing a response; a slow scraper of /metrics
	// is cut off rather than held.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
	// MaxConns bounds the connections open at once; more wait in the
	// kernel's accept queue until one closes.
	MaxConns int
}

// defaultHTTPLimits suit the agent's endpoints: small requests, and
// responses (the metrics) that take milliseconds.
func defaultHTTPLimits() httpLimits {
	return httpLimits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		MaxConns:          64,
	}
}

// pprofWriteTimeout is the write timeout while profiles are served: a CPU
// profile or trace answers only after the seconds it was asked for (30 by
// default), and net/http/pprof refuses a duration at or above the
// server's write timeout.
const pprofWriteTimeout = 2 * time.Minute

// serveMetrics starts the HTTP listener for /metrics, /healthz and /readyz,
// and with withPprof for net/http/pprof under /debug/pprof/. It listens
// before returning so that a bad address is a start-up error, and returns
// the address it listens on.
func serveMetrics(addr string, reg *prometheus.Registry, ready func() error, withPprof bool, limits httpLimits, log *slog.Logger) (*http.Server, net.Addr, error) {
	mux := http.NewServeMux()
	// Uncompressed: the page is a few kilobytes, read over the node's own
	// network, and a gzip writer's state is more than a megabyte of heap
	// at each scrape, on every node (BenchmarkBusyNode's heap profiles).
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, DisableCompression: true}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	if withPprof {
		// Registered on this mux by hand: the package's own init registers
		// on http.DefaultServeMux, which the agent never serves.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		limits.WriteTimeout = max(limits.WriteTimeout, pprofWriteTimeout)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		ReadTimeout:       limits.ReadTimeout,
		WriteTimeout:      limits.WriteTimeout,
		IdleTimeout:       limits.IdleTimeout,
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		// Refused and timed-out requests are a client's business; one
		// log line each would let any client flood the agent's log.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := srv.Serve(netutil.LimitListener(ln, limits.MaxConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "address", ln.Addr().String())
	return srv, ln.Addr(), nil
}
