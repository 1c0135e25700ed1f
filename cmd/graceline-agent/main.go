// Command graceline-agent watches one node's container runtime and reports
// how each pod on it terminates.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/graceline/graceline/agent"
	"github.com/graceline/graceline/agent/spool"
	"github.com/graceline/graceline/cri"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	hostname, _ := os.Hostname()
	cfg := agent.Config{Observer: cri.DefaultConfig()}
	var output, logLevel string
	cmd := &cobra.Command{
		Use:   "graceline-agent",
		Short: "Report how pods on this node terminate",
		Long: `graceline-agent follows the node's container runtime through CRI (an event
stream where that is safe, a relist always) and containerd's own event API,
and writes one event per lifecycle step of every sandbox and container:
container_created, container_started, container_exited, container_stopped,
sandbox_stopped, container_removed, sandbox_removed.

With --output - the events are JSON lines on stdout, in graceline's event
contract. With --collector they are sent to graceline-collector: first
appended to a durable spool on disk (--spool-dir, bounded by
--spool-max-bytes), then streamed and removed only once the collector has
stored them, so neither an agent crash nor a collector outage loses them.
When the spool is full, the oldest raw events are dropped first and the loss
is reported as an events_dropped event. --output defaults to "-" without
--collector and to "none" with it; give both to get both. Logs go to stderr.`,
		Example: `  graceline-agent --cri-endpoint unix:///run/containerd/containerd.sock --output -
  graceline-agent --collector collector.graceline:7070 --token-file /etc/graceline/token \
      --spool-dir /var/lib/graceline/spool`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			switch {
			case output == "-" || (output == "" && cfg.Delivery.Collector.Address == ""):
				cfg.Output = os.Stdout
			case output == "none" || output == "":
			default:
				return fmt.Errorf("--output %q: want \"-\" (JSON lines on stdout) or \"none\"", output)
			}
			if cfg.Delivery.Collector.Address != "" && cfg.Delivery.Collector.TokenFile == "" {
				return fmt.Errorf("--collector needs --token-file with an agent token")
			}
			// cri-client logs every failed call through klog; the agent
			// already logs each failure once, with context, so klog is muted.
			klog.SetLogger(logr.Discard())

			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := agent.Run(ctx, cfg, log); err != nil {
				log.Error("agent failed", "err", err)
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.CRIEndpoint, "cri-endpoint", "unix:///run/containerd/containerd.sock", "CRI runtime socket to watch (unix:// URL or path)")
	f.StringVar(&cfg.ContainerdAddress, "containerd-address", "", `containerd socket for its native events; default: the CRI socket when the runtime is containerd; "none" disables them`)
	f.StringVar(&cfg.NodeName, "node-name", hostname, "node name stamped on every event")
	f.StringVar(&output, "output", "", `"-" writes JSON lines to stdout, "none" does not; default "-" unless --collector is given`)
	cfg.Delivery.Collector.AddFlags(f)
	f.StringVar(&cfg.Delivery.Collector.TokenFile, "token-file", "", "file holding the agent's token for the collector (the bare token, or an \"agent TOKEN\" line)")
	f.StringVar(&cfg.Delivery.SpoolDir, "spool-dir", "/var/lib/graceline/spool", "directory of the durable spool of events on their way to the collector")
	f.Int64Var(&cfg.Delivery.SpoolMaxBytes, "spool-max-bytes", spool.DefaultMaxBytes, "bound on the spool's size on disk")
	f.DurationVar(&cfg.Delivery.SyncInterval, "spool-sync-interval", time.Second, "how often the spool is flushed to stable storage (a crash of the agent alone loses nothing in between)")
	f.StringVar(&cfg.MetricsAddress, "metrics-address", "", `serve Prometheus /metrics, /healthz and /readyz here (e.g. ":9090"); empty disables`)
	f.DurationVar(&cfg.CRITimeout, "cri-timeout", 5*time.Second, "bound on connecting to the runtime and on each CRI call")
	f.DurationVar(&cfg.Observer.RelistPeriod, "relist-period", cfg.Observer.RelistPeriod, "how often to relist the runtime when no event stream is live")
	f.DurationVar(&cfg.Observer.SafetyRelistPeriod, "safety-relist-period", cfg.Observer.SafetyRelistPeriod, "how often to relist while the event stream is live, to catch anything it missed")
	f.BoolVar(&cfg.Observer.DisableStream, "disable-event-stream", false, "never subscribe to CRI GetContainerEvents; relist only")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
