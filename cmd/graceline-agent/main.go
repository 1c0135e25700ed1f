// Command graceline-agent watches one node's container runtime and reports
// how each pod on it terminates.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"

	"github.com/graceline/graceline/agent"
	"github.com/graceline/graceline/agent/cgroups"
	"github.com/graceline/graceline/agent/readiness"
	"github.com/graceline/graceline/agent/record"
	"github.com/graceline/graceline/agent/release"
	"github.com/graceline/graceline/agent/spool"
	"github.com/graceline/graceline/agent/timeline"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/signals"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/cli"
	"github.com/graceline/graceline/internal/setting"
)

func main() {
	os.Exit(cli.Execute(context.Background(), newCommand(), os.Stderr))
}

// flags names the flag that sets each setting of agent.Config, so that a
// setting its package refuses is reported by the flag a person typed.
var flags = cli.Flags{
	"CRIEndpoint":                  "cri-endpoint",
	"NodeName":                     "node-name",
	"CRITimeout":                   "cri-timeout",
	"MetricsAddress":               "metrics-address",
	"Pprof":                        "pprof",
	"Observer.RelistPeriod":        "relist-period",
	"Observer.SafetyRelistPeriod":  "safety-relist-period",
	"Timeline.Slack":               "stuck-slack",
	"Timeline.StuckEvery":          "stuck-every",
	"Timeline.Settle":              "summary-settle",
	"Release.Period":               "release-poll-period",
	"Release.Recheck":              "release-recheck-period",
	"Release.GiveUp":               "release-give-up",
	"Kernel.HostPID":               "host-pid",
	"Kernel.AttributionWindow":     "ebpf-attribution-window",
	"Kernel.RemovedTTL":            "ebpf-removed-ttl",
	"Kernel.Probe.Signals":         "ebpf-signals",
	"Kernel.Probe.RatePerSec":      "ebpf-rate-limit",
	"Kernel.Probe.Burst":           "ebpf-burst",
	"Kernel.Probe.RingBytes":       "ebpf-ring-buffer-bytes",
	"Delivery.SpoolDir":            "spool-dir",
	"Delivery.SpoolMaxBytes":       "spool-max-bytes",
	"Delivery.SyncInterval":        "spool-sync-interval",
	"Delivery.Collector.TokenFile": "token-file",
	"Readiness.Interval":           "readiness-interval",
	"Record.Mode":                  "record",
	"Record.History":               "record-history",
}

func newCommand() *cobra.Command {
	hostname, _ := os.Hostname()
	cfg := agent.Config{
		Observer: cri.DefaultConfig(),
		Timeline: timeline.DefaultConfig(),
		Record:   record.DefaultConfig(),
		Release:  release.Config{CgroupRoot: cgroups.Root, MountInfo: "/proc/self/mountinfo"},
	}
	var output, logLevel string
	var maxProcs int
	var traced []string
	cmd := &cobra.Command{
		Use:   "graceline-agent",
		Short: "Report how pods on this node terminate",
		Long: `graceline-agent follows the node's container runtime through CRI (an event
stream where that is safe, a relist always), containerd's own event API, and
the kernel through eBPF, and writes one event per step of every pod's
termination: container_created, container_started, termination_readiness
(read while a container runs: its init's disposition for the stop signal,
whether it is a shell waiting on a worker, and the predicted outcome with
its cause; at the start, a few seconds later and every
--readiness-interval, sent when the prediction changes), prestop_exec, exec (any
other exec entering a container), signal_generated, oom_killed (the
kernel's OOM killer or the runtime reports a container's process killed for
memory), signal_delivered, container_inspected (a container's processes and
their ignored, caught and blocked signals, read at its stop signal and sent
when the runtime had to SIGKILL it), process_exited, container_exited,
container_stopped, sandbox_stopped,
cni_plugin_failed (a CNI plugin run from --cni-bin-dir that failed, with its
error message), cgroup_removed, netns_released, rootfs_released,
mounts_released, container_removed, sandbox_removed; then one
termination_summary per pod (phases, grace period, exit codes, verdict
graceful or killed, and each container's cause and advice), one
container_summary per container stopped or
restarted in a pod that lives on (a failed liveness probe, an OOM kill),
and stuck reports with evidence for a pod whose termination runs past its
grace period plus --stuck-slack.

Kernel events are attributed to the container of their target (a SIGTERM
sent by runc from the host belongs to the container that receives it). If
eBPF cannot be used (no BTF, no CAP_BPF/CAP_PERFMON), the agent says so once
and runs on CRI alone.

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
			log, err := cli.Logger(logLevel)
			if err != nil {
				return err
			}
			if cfg.Kernel.Probe.Signals, err = parseSignals(traced); err != nil {
				return flags.Check(setting.In("Kernel.Probe", err))
			}
			switch {
			case output == "-" || (output == "" && cfg.Delivery.Collector.Address == ""):
				cfg.Output = os.Stdout
			case output == "none" && cfg.Delivery.Collector.Address == "":
				return cli.Usagef("--output none: want --collector too, or nothing receives the events")
			case output == "none" || output == "":
			default:
				return cli.Usagef(`--output %q: want "-" (JSON lines on stdout) or "none"`, output)
			}
			if err := cfg.Validate(); err != nil {
				return flags.Check(err)
			}
			switch {
			case maxProcs < 0:
				return cli.Usagef("--gomaxprocs %d: want 1 or more, or 0 for Go's default", maxProcs)
			case maxProcs > 0:
				runtime.GOMAXPROCS(maxProcs)
			}
			// cri-client logs every failed call through klog; the agent
			// already logs each failure once, with context, so klog is muted.
			klog.SetLogger(logr.Discard())

			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			// A failure is printed once, by cli.Execute, as the last line.
			return agent.Run(ctx, cfg, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.CRIEndpoint, "cri-endpoint", "unix:///run/containerd/containerd.sock", "CRI runtime socket to watch (unix:// URL or path)")
	f.StringVar(&cfg.ContainerdAddress, "containerd-address", "", `containerd socket for its native events; default: the CRI socket when the runtime is containerd; "none" disables them`)
	f.StringVar(&cfg.NodeName, "node-name", hostname, "node name stamped on every event")
	f.StringVar(&output, "output", "", `"-" writes JSON lines to stdout, "none" does not; default "-" unless --collector is given`)
	cfg.Delivery.Collector.AddFlags(f)
	f.StringVar(&cfg.Delivery.Collector.TokenFile, "token-file", "", "file holding the agent's token for the collector (the bare token, or an \"agent TOKEN\" line), read again for every stream: in a cluster, the pod's projected ServiceAccount token for the collector's audience, which the kubelet rotates")
	f.StringVar(&cfg.Delivery.SpoolDir, "spool-dir", "/var/lib/graceline/spool", "directory of the durable spool of events on their way to the collector")
	f.Int64Var(&cfg.Delivery.SpoolMaxBytes, "spool-max-bytes", spool.DefaultMaxBytes, "bound on the spool's size on disk")
	f.DurationVar(&cfg.Delivery.SyncInterval, "spool-sync-interval", time.Second, "how often the spool is flushed to stable storage (a crash of the agent alone loses nothing in between)")
	f.StringVar(&cfg.MetricsAddress, "metrics-address", "", `serve Prometheus /metrics, /healthz and /readyz here (e.g. ":9090"); empty disables`)
	f.BoolVar(&cfg.Pprof, "pprof", false, "also serve Go's net/http/pprof profiles under /debug/pprof/ on --metrics-address (off by default: profiles show the agent's internals)")
	f.DurationVar(&cfg.CRITimeout, "cri-timeout", 5*time.Second, "bound on connecting to the runtime and on each CRI call")
	f.DurationVar(&cfg.Observer.RelistPeriod, "relist-period", cfg.Observer.RelistPeriod, "how often to relist the runtime when no event stream is live")
	f.DurationVar(&cfg.Observer.SafetyRelistPeriod, "safety-relist-period", cfg.Observer.SafetyRelistPeriod, "how often to relist while the event stream is live, to catch anything it missed")
	f.BoolVar(&cfg.Observer.DisableStream, "disable-event-stream", false, "never subscribe to CRI GetContainerEvents; relist only")
	f.BoolVar(&cfg.Kernel.Enabled, "ebpf", true, "load the eBPF probes (signals, exits, entering execs); --ebpf=false runs on CRI alone")
	f.BoolVar(&cfg.Kernel.Probe.IncludeHost, "ebpf-include-host", false, "also report host processes (normally dropped in the kernel unless a signal targets a container)")
	f.StringSliceVar(&traced, "ebpf-signals", signalNames(signals.DefaultSignals), "signals to trace; add a container's custom stop signal here if it is none of these")
	f.Uint64Var(&cfg.Kernel.Probe.RatePerSec, "ebpf-rate-limit", 1000, "kernel events per second allowed per container before they are dropped (and counted)")
	f.Uint64Var(&cfg.Kernel.Probe.Burst, "ebpf-burst", 2000, "burst of kernel events allowed per container above the rate limit")
	f.Uint32Var(&cfg.Kernel.Probe.RingBytes, "ebpf-ring-buffer-bytes", probe.DefaultRingBytes, fmt.Sprintf("size of the kernel's event ring buffer, a power of two from %d to %d; a full ring drops events (counted as ebpf_ringbuf_full), and the agent's RSS grows by twice its size", probe.MinRingBytes, probe.MaxRingBytes))
	f.DurationVar(&cfg.Kernel.AttributionWindow, "ebpf-attribution-window", 2*time.Second, "how long to hold a kernel event whose container is not known yet; where the runtime has no event stream (containerd 1.6) and is only listed, also until a listing begun that long after the event found no container for it, and at most five times as long")
	f.DurationVar(&cfg.Kernel.RemovedTTL, "ebpf-removed-ttl", 5*time.Second, "how long a removed container still resolves late kernel events")
	f.StringSliceVar(&cfg.Kernel.CNIBinDirs, "cni-bin-dir", []string{"/opt/cni/bin", "/usr/libexec/cni", "/usr/lib/cni"}, "directories the runtime runs CNI plugins from (repeat or comma-separate; missing ones are skipped); a failing plugin, a CNI DEL above all, is reported with its error message")
	f.BoolVar(&cfg.Kernel.Probe.CNIOutput, "ebpf-cni-output", false, "also read failing CNI plugins' error messages from their stdout; this probes the entry of every system call (about 90 ns each, see the README), so it is off by default and CNI failures are reported with the plugin, command, sandbox and exit status only")
	f.IntVar(&cfg.Kernel.HostPID, "host-pid", 1, "a process in the host's mount namespace (the agent runs with hostPID)")
	f.BoolVar(&cfg.SummariesOnly, "summaries-only", false, "print only termination_summary, container_summary and stuck events")
	f.DurationVar(&cfg.Readiness.Interval, "readiness-interval", readiness.DefaultInterval, "how often each running container's init and its direct children are read again to predict how its stop will go (termination_readiness, sent on change); it is also read at its start and a few seconds after")
	f.StringVar(&cfg.Record.Mode, "record", cfg.Record.Mode, `what to record: "policy" (init processes, signals from outside a container, OOM kills, lifecycle, every process of a container in its termination window, and a short history before it) or "all" (every kernel event, as the probes see it)`)
	f.IntVar(&cfg.Record.History, "record-history", cfg.Record.History, "events of a container's other processes kept before its termination window, and shipped when it opens (with --record policy)")
	f.DurationVar(&cfg.Timeline.Slack, "stuck-slack", cfg.Timeline.Slack, "how long past its grace period a termination may run before it is reported stuck")
	f.DurationVar(&cfg.Timeline.StuckEvery, "stuck-every", cfg.Timeline.StuckEvery, "how often a stuck report is repeated with fresh evidence")
	f.DurationVar(&cfg.Timeline.Settle, "summary-settle", cfg.Timeline.Settle, "how long after a sandbox's removal the summary waits for late resource-release events")
	f.DurationVar(&cfg.Release.Period, "release-poll-period", 200*time.Millisecond, "how often released network namespaces and mounts are checked for, and cgroups when the eBPF probe does not report their removal (at most 1m)")
	f.DurationVar(&cfg.Release.Recheck, "release-recheck-period", 10*time.Second, "how often a cgroup whose removal the eBPF probe reports is checked all the same, in case its event was lost (at most 1m)")
	f.DurationVar(&cfg.Release.GiveUp, "release-give-up", 10*time.Minute, "stop watching a resource that is still held after this long")
	f.StringVar(&cfg.Release.KubeletRoot, "kubelet-root", "/var/lib/kubelet", "the kubelet's --root-dir, where pods' volumes are mounted (mounted into the agent with HostToContainer propagation)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.IntVar(&maxProcs, "gomaxprocs", 1, "how many threads run the agent's Go code at once; 0 leaves Go's default (the GOMAXPROCS variable, else the CPU limit). The agent's work is a trickle of small steps, and one thread hands it from step to step without waking another: on a virtual machine each wake-up costs more than the step (see BenchmarkBusyNode in the README)")
	cli.AddVersion(cmd)
	return cmd
}

// signalNames are the signals' short names (TERM), as the flag reads them.
func signalNames(sigs []syscall.Signal) []string {
	out := make([]string, len(sigs))
	for i, s := range sigs {
		out[i] = strings.TrimPrefix(unix.SignalName(s), "SIG")
	}
	return out
}

// parseSignals reads names like TERM or SIGTERM, or numbers; which
// numbers the probe can trace is the probe's rule, checked with the rest
// of the configuration.
func parseSignals(names []string) ([]syscall.Signal, error) {
	out := make([]syscall.Signal, 0, len(names))
	for _, n := range names {
		s, err := signals.ParseSignal(n)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
