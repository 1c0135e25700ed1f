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
contract. Logs go to stderr.`,
		Example:       "  graceline-agent --cri-endpoint unix:///run/containerd/containerd.sock --output -",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			if output != "-" {
				return fmt.Errorf("--output %q: only \"-\" (JSON lines on stdout) is supported", output)
			}
			cfg.Output = os.Stdout
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
	f.StringVar(&output, "output", "-", `where events go; "-" writes JSON lines to stdout`)
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
