// Package kernel is the agent's eBPF source: it loads the termination
// probes, reads their events, attributes each to the container of its
// target (through a registry of mount namespaces that follows the runtime's
// containers), follows CNI plugin runs, and hands the release watcher the
// kernel's reports of removed cgroups.
//
// The ring buffer's reader never waits: it attributes each event itself and
// publishes it into the agent's queue, which drops and counts rather than
// wait; events it cannot attribute yet are held, within a bound, and
// retried by the source's other goroutine. The registry learns of
// containers from the agent's event queue.
package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graceline/graceline/agent/record"
	"github.com/graceline/graceline/agent/release"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/cgroup"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/pacer"
	"github.com/graceline/graceline/internal/setting"
)

// Bounds of the source's durations. A kernel event held longer than
// MaxAttributionWindow would reach the collector after the termination it
// belongs to was summarised.
const (
	MaxAttributionWindow = time.Minute
	MaxRemovedTTL        = 10 * time.Minute
)

// cniRescanPeriod is how often the CNI bin directories are looked at again
// for plugins installed after the agent started.
const cniRescanPeriod = 30 * time.Second

// Config configures the eBPF source.
type Config struct {
	Enabled bool
	// Probe is passed to the loader; its HostMntNS is filled in from HostPID.
	Probe ProbeConfig
	// HostPID is a process in the host's mount namespace (1 with hostPID).
	HostPID int
	// AttributionWindow is how long an event about an unknown container is
	// held before it is emitted without one; where the runtime is only
	// listed, also until a listing that began a window after the event
	// (see kernelSource.expired).
	AttributionWindow time.Duration
	// RemovedTTL is how long a removed container still resolves.
	RemovedTTL time.Duration
	// CNIBinDirs are the directories the runtime runs CNI plugins from;
	// their failures (a DEL that fails, with its message) are reported.
	CNIBinDirs []string
	// Now tells the time for the source's decisions: when a held event's
	// window has passed, when a CNI run or a removed container is given
	// up. Nil means time.Now. Events keep the kernel's own time.
	Now func() time.Time
}

// Validate checks the eBPF source's settings, whether or not it is
// enabled: a value that makes no sense is refused either way.
func (k Config) Validate() error {
	switch {
	case k.HostPID < 1:
		return setting.Invalid("HostPID", k.HostPID, "a process id, at least 1")
	case k.AttributionWindow <= 0 || k.AttributionWindow > MaxAttributionWindow:
		return setting.Invalid("AttributionWindow", k.AttributionWindow, "more than 0 and at most "+MaxAttributionWindow.String())
	case k.RemovedTTL <= 0 || k.RemovedTTL > MaxRemovedTTL:
		return setting.Invalid("RemovedTTL", k.RemovedTTL, "more than 0 and at most "+MaxRemovedTTL.String())
	}
	return setting.In("Probe", k.Probe.Validate())
}

// Metrics counts what the source loses and repairs. Dropped and Repaired
// are the agent's shared counters; the rest are the source's own.
type Metrics struct {
	Dropped *prometheus.CounterVec
	// Repaired counts strings the probe found not valid UTF-8.
	Repaired prometheus.Counter
	// Unattributed counts events emitted without a container.
	Unattributed prometheus.Counter
	// CNIUnparsable counts failed CNI plugin runs whose stdout was not a
	// CNI error object.
	CNIUnparsable prometheus.Counter
}

// NewMetrics creates the source's own metrics, registers them with reg, and
// makes the source's drop reasons appear in dropped from the start.
func NewMetrics(reg prometheus.Registerer, dropped *prometheus.CounterVec, repaired prometheus.Counter) *Metrics {
	m := &Metrics{Dropped: dropped, Repaired: repaired,
		Unattributed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_ebpf_unattributed_total", Help: "Kernel events emitted without a container: none was known for their mount namespace within the attribution window (and, where the runtime is only listed, by a listing begun a window after them).",
		}),
		CNIUnparsable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graceline_cni_output_unparsable_total", Help: "Failed CNI plugin runs whose stdout was not a CNI error object; their events carry the raw output instead.",
		}),
	}
	reg.MustRegister(m.Unattributed, m.CNIUnparsable)
	for _, r := range []string{"ebpf_rate_limited", "ebpf_ringbuf_full", "ebpf_outside_window", "ebpf_exiting_target", "ebpf_queue_full", "ebpf_pending_full", "ebpf_undecodable",
		"cni_env_malformed", "cni_runs_full", "cni_exit_missed"} {
		dropped.WithLabelValues(r)
	}
	return m
}

// CgroupWatcher is the release watcher as the kernel source feeds it: it
// registers the cgroups whose removal it waits for with the probe, and
// learns of their removal from the probe's events.
type CgroupWatcher interface {
	cgroupRemovals
	UseKernel(release.KernelCgroups)
}

// Source is the loaded eBPF source.
type Source struct {
	k *kernelSource
}

// New loads the eBPF probes; emit receives the attributed events, and
// cgroups the kernel's reports of removed cgroups when the kernel can
// make them.
func New(cfg Config, node string, emit func(*apiv1.Event), cgroups CgroupWatcher, m *Metrics, log *slog.Logger) (*Source, error) {
	hostNS, err := probe.MountNamespace(cfg.HostPID)
	if err != nil {
		// Without rights on the host's PID 1 (it may hold capabilities the
		// agent lacks), fall back to the agent's own namespace: right when
		// the agent runs on the host, not when it runs in a container.
		self, serr := probe.MountNamespace(os.Getpid())
		if serr != nil {
			return nil, fmt.Errorf("find host mount namespace: %w", err)
		}
		log.Warn("cannot read the host's mount namespace; using the agent's own", "pid", cfg.HostPID, "err", err)
		hostNS = self
	}
	pc := cfg.Probe
	pc.HostMntNS = hostNS
	probes, err := loadProbes(pc)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	reg := newRegistry(cfg.RemovedTTL, log)
	reg.now, reg.filter, reg.started = now, probes.shared, probes.shared.Clock().ProcessStart
	k := &kernelSource{probe: probes, reg: reg, emit: emit, node: node, hostNS: hostNS, window: cfg.AttributionWindow, now: now, dropped: m.Dropped, unattributed: m.Unattributed, repaired: m.Repaired, log: log,
		cni: newCNIRuns(node, reg.sandboxPod, m.Dropped, m.CNIUnparsable), cniDirs: cfg.CNIBinDirs, cniRescan: cniRescanPeriod, cgroupRoot: defaultCgroupRoot,
		pace: pacer.New(cfg.AttributionWindow / 4)}
	followed, err := probes.cni.AddBinDirs(cfg.CNIBinDirs)
	switch {
	case len(cfg.CNIBinDirs) == 0:
	case len(followed) == 0:
		log.Warn("no CNI bin dir found yet; CNI plugin failures are not reported until one appears", "dirs", cfg.CNIBinDirs, "err", err)
	default:
		log.Info("following CNI plugins", "dirs", followed, "err", err)
	}
	if err := probes.cni.OutputErr(); err != nil {
		log.Warn("CNI plugins' error messages cannot be read; their failures are reported with exit codes only", "err", err)
	}
	if err := probes.oomErr; err != nil {
		log.Warn("OOM kills are not followed in the kernel; they are reported from the runtime's events, without their process", "err", err)
	}
	if err := probes.cgroupErr; err != nil {
		log.Warn("removed cgroups are not reported by the kernel; they are polled for", "err", err)
	} else {
		cgroups.UseKernel(probes.cgroup)
		k.cgroups, k.removals = cgroups, make(chan cgroup.Event, removalQueueLen)
	}
	return &Source{k: k}, nil
}

// Attribution is the source's registry of containers, to be fed the
// runtime's changes (from the agent's event queue) before any other
// consumer, so that kernel events find their container early.
func (s *Source) Attribution() cri.Subscriber { return s.k.reg }

// Windows is the kernel's side of the recording policy's termination
// windows, for record.Policy.UseKernel.
func (s *Source) Windows() record.Windows { return windows{reg: s.k.reg, filter: s.k.probe.shared} }

// Run reads and attributes kernel events until ctx ends, then closes the
// probes.
func (s *Source) Run(ctx context.Context) {
	defer s.k.probe.Close()
	s.k.run(ctx)
}
