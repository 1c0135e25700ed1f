// Command graceline-collector stores the events of every node's agent and
// answers queries about them.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/graceline/graceline/collector"
	"github.com/graceline/graceline/collector/aggapi"
	"github.com/graceline/graceline/collector/auth"
	"github.com/graceline/graceline/collector/ingest"
	"github.com/graceline/graceline/collector/kube"
	"github.com/graceline/graceline/collector/otlp"
	"github.com/graceline/graceline/collector/outcome"
	"github.com/graceline/graceline/internal/cli"
	"github.com/graceline/graceline/internal/setting"
)

func main() {
	os.Exit(cli.Execute(context.Background(), newCommand(), os.Stderr))
}

// flags names the flag that sets each setting of collector.Config and of
// its cluster side, so that a setting its package refuses is reported by
// the flag a person typed.
var flags = cli.Flags{
	"DataDir":                    "data-dir",
	"GRPCAddress":                "grpc-address",
	"HTTPAddress":                "http-address",
	"CertFile":                   "tls-cert",
	"KeyFile":                    "tls-key",
	"ClientCAFile":               "tls-client-ca",
	"Retention":                  "retention",
	"PurgeInterval":              "purge-interval",
	"MaxConnections":             "max-connections",
	"Ingest.MaxStreams":          "max-agent-streams",
	"Ingest.MaxBatchRecords":     "max-batch-records",
	"Ingest.MaxBatchBytes":       "max-batch-bytes",
	"Ingest.MaxClockSkew":        "max-clock-skew",
	"MetricsMaxNamespaces":       "metrics-max-namespaces",
	"Kubernetes.StuckAfter":      "stuck-after",
	"Kubernetes.StuckEvery":      "stuck-every",
	"Kubernetes.FinalWait":       "final-summary-wait",
	"Aggregated.Address":         "aggregated-api-address",
	"Aggregated.CertFile":        "aggregated-api-cert",
	"AgentTokens.ServiceAccount": "agent-service-account",
}

func newCommand() *cobra.Command {
	var cfg collector.Config
	var logLevel, kubeMode string
	var agg aggapi.Config
	var agentTokens collector.AgentTokens
	var otlpCfg otlp.Config
	var otlpHeaders []string
	kubeCfg := kube.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "graceline-collector --data-dir DIR",
		Short: "Store every node's pod terminations and answer queries about them",
		Long: `graceline-collector receives events from graceline agents over one gRPC
stream each, stores them in SQLite under --data-dir exactly once (a resent
batch is recognised by its delivery key), and serves queries: the gRPC Query
service (used by kubectl-graceline) and the same queries as HTTP with JSON
lines, for curl:

  GET /api/v1/namespaces/NS/pods/NAME/timeline
  GET /api/v1/terminations?namespace=&node=&verdict=&since=1h&limit=
  GET /api/v1/stuck?namespace=&node=
  GET /api/v1/watch?namespace=&node=&name=

/healthz, /readyz and /metrics (Prometheus) are served on the HTTP address
without a token. /readyz fails while the database does not answer or while
agents' batches cannot be stored (a full disk, say).

Limits: every client, with a token or without, is bounded: headers of at
most 8 KiB, --max-connections per listener, 16 calls per gRPC connection,
idle gRPC connections closed after 5 minutes and every connection asked to
reconnect after 2 hours, HTTP requests read within 30 s (headers within
5 s), no request bodies, answers written within 2 minutes (a watch only
needs each line written within 30 s). Agents get at most
--max-agent-streams streams, --max-batch-records records per batch and
256 KiB per event. Records that break a rule are refused one by one, counted
in graceline_collector_events_rejected_total{reason}, and named in the
batch's acknowledgement; the stream goes on. An agent may write only its own
node's events (the first record's node names the stream's), never events of
the API's, and never rename a pod already known. Events dated before 2000
or more than --max-clock-skew ahead are refused.

Authentication: every gRPC call and every /api request needs a bearer token
("authorization: Bearer TOKEN"). Tokens come from --token-file, one
"ROLE TOKEN" per line, where ROLE is agent (may only send events) or reader
(may only query). Without --token-file the collector uses DIR/tokens and, on
first start, creates it (mode 0600) with one new agent token and one new
reader token: read them from there. Requests without a valid token are
refused and counted in graceline_collector_auth_refused_total.

TLS: with --tls-cert and --tls-key both listeners serve TLS; adding
--tls-client-ca requires clients to present a certificate signed by it
(mutual TLS), on top of their token.

Cluster side: with --kubernetes=on (or auto, the default, inside a pod or
with --kubeconfig), the collector also watches Pods, EndpointSlices and
Nodes (shared informers; it needs get, list and watch on those three and
nothing more) and stores, beside the node's events and under the same pod
UID: delete_requested, endpoint_not_ready, endpoint_removed,
finalizers_changed and pod_deleted. Each pod's final termination_summary
then carries api_to_node, endpoint_lag (negative: the pod got its stop
signal while a Service still sent it traffic, traffic_risk) and node_to_api.
A deletion the node finished but whose object stays longer than
--stuck-after (finalizers, or a kubelet that does not confirm), or that the
node never starts, is reported stuck with blocking_phase finalizers or node.
If the API refuses the watches (missing rights), the collector logs one
error, reports it on /healthz ("degraded") and keeps serving the node data.

Aggregated API: with --aggregated-api-address (and the cluster's API server
given an APIService for it), the collector serves graceline.dev/v1alpha1
over HTTPS: podterminations (get, list, a table with verdict, duration,
cause and age; field selectors status.verdict and status.nodeName), their
timeline subresource (?uid= picks one pod of a reused name), stuckpods,
workloadreports (the report per owner workload; field selector
status.window=168h or status.since=<RFC 3339>, a day by default), and
terminationchecks (each running container's predicted stop; field
selectors status.workload=<Kind>/<name>, status.pod and the history's
status.window or status.since, seven days by default). Callers are authenticated by the API
server's front proxy and authorized per namespace by SubjectAccessReview,
through --kubeconfig (default: the pod's service account), so that
kubectl get podterminations needs no token and no port-forward.

Outcome metrics on /metrics: graceline_terminations_total{namespace,
verdict,cause} counts each pod termination once (with the cluster side, its
final joined summary; without, the agent's final summary), beside
graceline_termination_duration_seconds{namespace},
graceline_termination_phase_duration_seconds{phase}, graceline_termination_endpoint_lag_seconds,
graceline_termination_traffic_risk_total{namespace} and
graceline_pods_stuck{namespace,blocking_phase}, read from the database at
each scrape. Only the first --metrics-max-namespaces namespaces get series
of their own; later ones share namespace="_other".

Events older than --retention (by their own time) are purged in the
background. SIGTERM or SIGINT shut the collector down cleanly.`,
		Example: `  graceline-collector --data-dir /var/lib/graceline
  curl -H "Authorization: Bearer $(awk '$1=="reader"{print $2}' /var/lib/graceline/tokens)" \
      localhost:7071/api/v1/terminations`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := cli.Logger(logLevel)
			if err != nil {
				return err
			}
			if err := cli.OneOf("kubernetes", kubeMode, "on", "off", "auto"); err != nil {
				return err
			}
			if agentTokens.ServiceAccount != "" {
				agentTokens.Kubeconfig = kubeCfg.Kubeconfig
				cfg.AgentTokens = &agentTokens
			}
			if err := cfg.Validate(); err != nil {
				return flags.Check(err)
			}
			// The cluster side's settings are checked even when it is off:
			// a value that makes no sense is a mistake either way.
			if err := kubeCfg.Validate(); err != nil {
				return flags.Check(setting.In("Kubernetes", err))
			}
			if otlpCfg.Endpoint != "" {
				h, err := headers(otlpHeaders)
				if err != nil {
					return err
				}
				otlpCfg.Headers = h
				cfg.OTLP = &otlpCfg
				if err := otlpCfg.Validate(); err != nil {
					return cli.Usagef("--otlp-endpoint: %v", err)
				}
			}
			// client-go logs through klog; send it the same way.
			klog.SetSlogLogger(log.With("part", "client-go"))
			cfg.Kubernetes = kubeConfig(kubeMode, kubeCfg, log)
			if agg.Address != "" {
				agg.Kubeconfig = kubeCfg.Kubeconfig
				cfg.Aggregated = &agg
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			// A failure is printed once, by cli.Execute, as the last line.
			return collector.Run(ctx, cfg, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the database (and the token file by default); created if missing")
	f.StringVar(&cfg.GRPCAddress, "grpc-address", collector.DefaultGRPCAddress, "listen address of the gRPC ingest and query services")
	f.StringVar(&cfg.HTTPAddress, "http-address", collector.DefaultHTTPAddress, "listen address of the HTTP API, /metrics, /healthz and /readyz")
	f.StringVar(&cfg.TokenFile, "token-file", "", `file of "ROLE TOKEN" lines (roles: agent, reader); default DATA_DIR/tokens, created with new tokens if missing`)
	f.StringVar(&agentTokens.ServiceAccount, "agent-service-account", "", `NAMESPACE/NAME: also admit agents by this ServiceAccount's node-bound tokens, checked by TokenReview; each may write only its own node's events (empty: static agent tokens only)`)
	f.StringVar(&agentTokens.Audience, "agent-token-audience", auth.DefaultAgentAudience, "audience the agents' ServiceAccount tokens must be issued for (the projected volume's audience)")
	f.StringVar(&cfg.CertFile, "tls-cert", "", "serve TLS with this certificate (PEM)")
	f.StringVar(&cfg.KeyFile, "tls-key", "", "the TLS certificate's private key (PEM)")
	f.StringVar(&cfg.ClientCAFile, "tls-client-ca", "", "require client certificates signed by this CA (PEM): mutual TLS")
	f.DurationVar(&cfg.Retention, "retention", collector.DefaultRetention, "how long events are kept")
	f.DurationVar(&cfg.PurgeInterval, "purge-interval", collector.DefaultPurgeInterval, "how often expired events are purged")
	f.IntVar(&cfg.MaxConnections, "max-connections", collector.DefaultMaxConnections, "most open connections on each listener (gRPC and HTTP); more wait in the kernel's backlog")
	f.IntVar(&cfg.Ingest.MaxStreams, "max-agent-streams", ingest.DefaultMaxStreams, "most agent streams served at once; one per node is needed, more are refused with ResourceExhausted")
	f.IntVar(&cfg.Ingest.MaxBatchRecords, "max-batch-records", ingest.DefaultMaxBatchRecords, "most records per agent batch; records past it are refused (agents are told the limit and stay under it)")
	f.IntVar(&cfg.Ingest.MaxBatchBytes, "max-batch-bytes", ingest.DefaultMaxBatchBytes, "size agents are told to keep their batches under; gRPC messages much larger are refused")
	f.DurationVar(&cfg.Ingest.MaxClockSkew, "max-clock-skew", ingest.DefaultMaxClockSkew, "refuse events dated further than this ahead of the collector's clock")
	f.IntVar(&cfg.MetricsMaxNamespaces, "metrics-max-namespaces", outcome.DefaultMaxNamespaces, `namespaces that get series of their own in the outcome metrics (graceline_terminations_total and the like); later ones share namespace="_other", counted in graceline_collector_metrics_namespace_overflow_total`)
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&kubeMode, "kubernetes", "auto", "watch the Kubernetes API for the cluster side: on, off, or auto (on inside a pod or with --kubeconfig)")
	f.StringVar(&kubeCfg.Kubeconfig, "kubeconfig", "", "kubeconfig for the API watches; default: the pod's service account")
	f.DurationVar(&kubeCfg.StuckAfter, "stuck-after", kubeCfg.StuckAfter, "report a deletion stuck when the object outlives the node's work, or the node stays idle after the delete request, this long")
	f.DurationVar(&kubeCfg.StuckEvery, "stuck-every", kubeCfg.StuckEvery, "repeat a cluster-side stuck report this often")
	f.DurationVar(&kubeCfg.FinalWait, "final-summary-wait", kubeCfg.FinalWait, "how long a deleted pod's final summary waits for its node's own summary")
	f.StringVar(&agg.Address, "aggregated-api-address", "", `serve the graceline.dev aggregated API (for an APIService) over HTTPS on this address, e.g. ":7443"; empty: off`)
	f.StringVar(&agg.CertFile, "aggregated-api-cert", "", "the aggregated API's serving certificate (PEM); default: a self-signed one under DATA_DIR/apiserver-certs")
	f.StringVar(&agg.KeyFile, "aggregated-api-key", "", "the aggregated API's serving certificate's key (PEM)")
	f.StringVar(&otlpCfg.Endpoint, "otlp-endpoint", "", "export each pod termination as an OpenTelemetry trace to this OTLP endpoint: grpc://HOST:PORT, or http(s)://HOST:PORT[/PATH] (path default /v1/traces); empty: off")
	f.BoolVar(&otlpCfg.Insecure, "otlp-insecure", false, "send OTLP in plain text (needed for http://; grpc:// then skips TLS)")
	f.StringVar(&otlpCfg.CAFile, "otlp-ca", "", "check the OTLP backend's certificate against this CA bundle (PEM) instead of the system's")
	f.StringArrayVar(&otlpHeaders, "otlp-header", nil, "header KEY=VALUE sent with every OTLP export (repeat the flag for more)")
	f.DurationVar(&otlpCfg.Timeout, "otlp-timeout", otlp.DefaultTimeout, "bound of one OTLP export call; failed exports are retried with backoff")
	cli.AddVersion(cmd)
	return cmd
}

// headers reads --otlp-header's KEY=VALUE pairs.
func headers(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, cli.Usagef("--otlp-header %q: want KEY=VALUE", p)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// kubeConfig decides from --kubernetes (on, off or auto, checked already)
// whether the cluster side runs.
func kubeConfig(mode string, cfg kube.Config, log *slog.Logger) *kube.Config {
	switch mode {
	case "on":
		return &cfg
	case "auto":
		if cfg.Kubeconfig != "" || os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
			return &cfg
		}
		log.Info("not in a Kubernetes pod and no --kubeconfig: the cluster side (API watches) is off")
	}
	return nil
}
