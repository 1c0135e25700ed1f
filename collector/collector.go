package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"k8s.io/client-go/kubernetes"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/aggapi"
	"github.com/graceline/graceline/collector/auth"
	"github.com/graceline/graceline/collector/httpapi"
	"github.com/graceline/graceline/collector/ingest"
	"github.com/graceline/graceline/collector/kube"
	"github.com/graceline/graceline/collector/otlp"
	"github.com/graceline/graceline/collector/outcome"
	"github.com/graceline/graceline/collector/query"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/ui"
	"github.com/graceline/graceline/collector/watch"
)

// shutdownGrace is how long open calls get to finish at shutdown. Agents'
// streams never end by themselves; what they had in flight is resent.
const shutdownGrace = time.Second

// Run serves until ctx ends, then shuts down cleanly: listeners close, open
// streams are given a moment, and the database is closed last.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	tokens, err := loadTokens(&cfg, log)
	if err != nil {
		return err
	}
	tlsConfig, err := serverTLS(cfg)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.dbPath())
	if err != nil {
		return err
	}
	defer st.Close()

	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	purged := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "graceline_collector_events_purged_total", Help: "Events deleted because they outlived the retention.",
	})
	reg.MustRegister(purged)
	nodeTokens, err := agentTokens(cfg.AgentTokens)
	if err != nil {
		return err
	}
	checker := auth.NewChecker(tokens, nodeTokens, reg, log)
	hub := watch.NewHub(reg)
	svc := query.NewService(st, hub, reg, log.With("part", "query"))
	reg.MustRegister(newPredictedKills(svc, log.With("part", "metrics")))
	// Every newly stored event passes the outcome metrics on its way to
	// the live watchers: both ingest and the cluster side publish an event
	// exactly once, when the store first takes it.
	outcomes := outcome.New(outcome.Config{FromCluster: cfg.Kubernetes != nil, MaxNamespaces: cfg.MetricsMaxNamespaces}, st, reg, log.With("part", "metrics"))
	pub := outcomes.Tap(hub)

	agents := ingest.NewAgents()
	var kw *kube.Watcher
	if cfg.Kubernetes != nil {
		rc, err := kube.RestConfig(cfg.Kubernetes.Kubeconfig)
		if err != nil {
			return err
		}
		if kw, err = kube.New(*cfg.Kubernetes, rc, st, pub, agents, query.Summarize, reg, log.With("part", "kubernetes")); err != nil {
			return err
		}
		svc.SetOwners(kw)
	}

	// The OTLP export reads the store on its own goroutine, behind its own
	// cursor: nothing on the event path waits for the backend.
	var exporter *otlp.Exporter
	if cfg.OTLP != nil {
		oc := *cfg.OTLP
		oc.FromCluster = cfg.Kubernetes != nil
		client, err := otlp.NewClient(ctx, oc)
		if err != nil {
			return err
		}
		exporter = otlp.New(oc, st, client, reg, log.With("part", "otlp"))
	}

	var agg *aggapi.Server
	if cfg.Aggregated != nil {
		if agg, err = aggapi.New(*cfg.Aggregated, svc); err != nil {
			return err
		}
	}

	grpcLn, err := net.Listen("tcp", cfg.GRPCAddress)
	if err != nil {
		return fmt.Errorf("listen for gRPC on %s: %w", cfg.GRPCAddress, err)
	}
	httpLn, err := net.Listen("tcp", cfg.HTTPAddress)
	if err != nil {
		grpcLn.Close()
		return fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddress, err)
	}
	grpcLn, httpLn = limitListener(grpcLn, cfg.MaxConnections), limitListener(httpLn, cfg.MaxConnections)
	gs := newGRPCServer(tlsConfig, checker, cfg.Ingest.MaxMessageBytes(), cfg.times)
	in := ingest.NewServer(st, pub, agents, cfg.Ingest, ingest.NewMetrics(reg), log)
	apiv1.RegisterIngestServer(gs, in)
	apiv1.RegisterQueryServer(gs, query.NewServer(svc))

	httpCtx, stopHTTP := context.WithCancel(context.Background())
	defer stopHTTP()
	api := checker.HTTP(auth.RoleReader, httpapi.Handler(svc))
	mtls := cfg.ClientCAFile != ""
	hs := newHTTPServer(httpHandler(reg, st, in, kw, requireClientCert(mtls, api), requireClientCert(mtls, ui.Handler(api, checker))), cfg.times)
	hs.TLSConfig = httpTLS(tlsConfig)
	// Long-lived watch requests end when shutdown begins.
	hs.BaseContext = func(net.Listener) context.Context { return httpCtx }

	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := gs.Serve(grpcLn); err != nil {
			log.Error("gRPC server stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		var err error
		if tlsConfig != nil {
			err = hs.ServeTLS(httpLn, "", "")
		} else {
			err = hs.Serve(httpLn)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		purgeLoop(ctx, st, cfg.Retention, cfg.PurgeInterval, purged, log)
	}()
	// A changed token file (a rotated Secret) takes effect without a restart.
	go checker.WatchTokenFile(ctx, cfg.TokenFile, tokenFilePoll)
	if kw != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := kw.Run(ctx); err != nil {
				log.Error("cluster side stopped; node data is still served", "err", err)
			}
		}()
	}
	if exporter != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exporter.Run(ctx)
		}()
	}
	if agg != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := agg.Run(ctx); err != nil {
				log.Error("aggregated API stopped", "err", err)
			}
		}()
	}
	log.Info("collector serving", "grpc", grpcLn.Addr().String(), "http", httpLn.Addr().String(),
		"tls", tlsConfig != nil, "mutual_tls", cfg.ClientCAFile != "", "data_dir", cfg.DataDir, "retention", cfg.Retention,
		"kubernetes", kw != nil, "aggregated_api", cfg.Aggregated != nil, "agent_service_account", nodeTokens != nil, "otlp", cfg.OTLP != nil)

	<-ctx.Done()
	log.Info("shutting down")
	stopHTTP()
	shutdown(gs, hs)
	wg.Wait()
	return nil
}

func newGRPCServer(tlsConfig *tls.Config, checker *auth.Checker, maxMessage int, ct connTimes) *grpc.Server {
	opts := append(grpcLimits(maxMessage, ct),
		grpc.ChainUnaryInterceptor(checker.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(checker.StreamInterceptor()),
		// Stop waits for handlers, so that no insert runs once the store
		// is closed.
		grpc.WaitForHandlers(true),
	)
	if tlsConfig != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig)))
	}
	return grpc.NewServer(opts...)
}

// readiness is what /readyz asks beside the database: whether batches are
// being stored.
type readiness interface{ Ready() error }

func httpHandler(reg *prometheus.Registry, st *store.Store, in readiness, kw *kube.Watcher, api, web http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeHealth(w, kw) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := in.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/api/", api)
	mux.Handle("/ui/", web)
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	return mux
}

// shutdown stops both servers, giving open streams shutdownGrace to end.
func shutdown(gs *grpc.Server, hs *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	hs.Shutdown(ctx)
	select {
	case <-done:
	case <-ctx.Done():
		gs.Stop()
		<-done
	}
}

// tokenFilePoll is how often the token file is checked for changes.
const tokenFilePoll = 5 * time.Second

// loadTokens reads the token file, first creating the default one with
// fresh tokens when none was given and none exists yet.
func loadTokens(cfg *Config, log *slog.Logger) (*auth.Tokens, error) {
	if cfg.TokenFile == "" {
		cfg.TokenFile = cfg.defaultTokenFile()
		created, err := auth.EnsureTokenFile(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		if created {
			log.Info("created a token file with a new agent token and a new reader token; give agents the agent token and readers the reader token", "file", cfg.TokenFile)
		}
	}
	return auth.LoadTokens(cfg.TokenFile)
}

// agentTokens returns the reviewer of agents' node-bound tokens, or nil
// when only static tokens are accepted.
func agentTokens(a *AgentTokens) (*auth.NodeTokens, error) {
	if a == nil {
		return nil, nil
	}
	rc, err := kube.RestConfig(a.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client for token reviews: %w", err)
	}
	return auth.NewNodeTokens(cs.AuthenticationV1(), auth.NodeTokensConfig{ServiceAccount: a.ServiceAccount, Audience: a.Audience})
}

// writeHealth answers /healthz. A failing Kubernetes watch is reported
// ("degraded", one line per failing resource) but keeps the status 200:
// restarting the collector would not fix it, and it still serves the
// node data.
func writeHealth(w http.ResponseWriter, kw *kube.Watcher) {
	var problems map[string]string
	if kw != nil {
		problems = kw.Health().Problems()
	}
	if len(problems) == 0 {
		fmt.Fprintln(w, "ok")
		return
	}
	fmt.Fprintln(w, "degraded")
	for _, name := range slices.Sorted(maps.Keys(problems)) {
		fmt.Fprintf(w, "kubernetes %s watch failing: %s\n", name, problems[name])
	}
}
