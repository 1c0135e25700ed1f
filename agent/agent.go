// Package agent wires graceline's node-side sources together: it connects to
// the container runtime, follows it through CRI and containerd's own events,
// and writes the resulting lifecycle events.
package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/graceline/graceline/agent/diagnose"
	"github.com/graceline/graceline/agent/kernel"
	"github.com/graceline/graceline/agent/pipeline"
	"github.com/graceline/graceline/agent/readiness"
	"github.com/graceline/graceline/agent/record"
	"github.com/graceline/graceline/agent/release"
	"github.com/graceline/graceline/agent/sink"
	"github.com/graceline/graceline/agent/timeline"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/cri/containerd"
)

// ContainerdOff disables containerd's event API even when the runtime is
// containerd.
const ContainerdOff = "none"

// Config is everything the agent needs to run.
type Config struct {
	// CRIEndpoint is the runtime's CRI socket (unix:///run/containerd/containerd.sock).
	CRIEndpoint string
	// ContainerdAddress is containerd's socket; empty means the CRI socket
	// when the runtime is containerd, ContainerdOff means never.
	ContainerdAddress string
	NodeName          string
	// CRITimeout bounds connecting and every CRI call.
	CRITimeout time.Duration
	// MetricsAddress serves /metrics, /healthz and /readyz; empty disables it.
	MetricsAddress string
	Observer       cri.Config
	Kernel         kernel.Config
	Timeline       timeline.Config
	Release        release.Config
	// SummariesOnly prints and sends only termination summaries and stuck
	// reports.
	SummariesOnly bool
	// Readiness schedules the reads of running containers that predict
	// how their stop will go (termination_readiness).
	Readiness readiness.Config
	// Record chooses which events are recorded: the policy or all.
	Record record.Config
	// Output receives JSON lines when set.
	Output io.Writer
	// Delivery sends events to a collector when its address is set.
	Delivery sink.DeliveryConfig
	// Pipeline bounds the event queue and the sinks' buffers.
	Pipeline pipeline.Config
	// Pprof also serves net/http/pprof under /debug/pprof/ on
	// MetricsAddress, so that an operator can profile the agent on a busy
	// node. Off by default: profiles show the agent's internals and cost
	// CPU while they run.
	Pprof bool
	// Registry, when set, is where the agent registers its metrics and what
	// /metrics serves; nil means a new one. Tests read what was registered
	// from it.
	Registry *prometheus.Registry
}

// Run runs the agent until ctx ends. It returns an error only for a
// configuration it cannot start with; a runtime that is absent or misbehaves
// is retried, never fatal.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("check configuration: %w", err)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)
	criMetrics := cri.NewMetrics(reg)
	losses := pipeline.NewLosses()
	queue := pipeline.New(cfg.Pipeline.QueueLen, pipeline.NewMetrics(reg), losses)
	out, err := sink.Open(ctx, sink.Config{Node: cfg.NodeName, Output: cfg.Output, Delivery: cfg.Delivery, BufferLen: cfg.Pipeline.SinkBufferLen}, reg,
		sink.Metrics{Events: m.events, Dropped: m.dropped, Repaired: m.repaired.WithLabelValues(repairedOutput), Losses: losses}, log)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: after the sources have stopped and
	// the queue has drained into the sinks.
	defer out.Close()

	// Sources publish into the queue: the tracker its events and changes,
	// the release watcher and the kernel source their events. The
	// correlator's own summaries and stuck reports go straight to the
	// sinks, which never wait.
	// The relists' health exists before the runtime is reached: readiness
	// and the stuck diagnosis read it from the start.
	health := &cri.RelistHealth{}
	inspector := &diagnose.Inspector{KubeletRoot: cfg.Release.KubeletRoot, MountInfo: cfg.Release.MountInfo, Now: time.Now, RuntimeErr: health.LastError}
	tcfg := cfg.Timeline
	tcfg.ExpectMounts = cfg.Release.KubeletRoot != ""
	// The recording policy stands between everything that emits and the
	// sinks; summaries pass through it too, since they ship its history.
	// With --summaries-only there is nothing else for it to keep.
	emit := out.Emit
	var policy *record.Policy
	if cfg.Record.Mode != record.ModeAll && !cfg.SummariesOnly {
		policy = record.New(out.Emit, cfg.Record, record.NewMetrics(reg, m.dropped))
		emit = policy.Emit
	}
	corr := timeline.New(cfg.NodeName, summariesOnly(emit, cfg.SummariesOnly), inspector, tcfg)
	releases := release.New(cfg.NodeName, queue.Events(pipeline.SourceRelease), cfg.Release)
	releases.CountCgroupRemovals(func(foundBy string) { m.cgroupRemovals.WithLabelValues(foundBy).Inc() })
	tracker := cri.NewTracker(cfg.NodeName, queue.Events(pipeline.SourceRuntime))
	tracker.Subscribe(queue.Changes(pipeline.SourceRuntime))
	sources, unavailable := []string{"cri_relist"}, []string{}

	var wg sync.WaitGroup
	if cfg.MetricsAddress != "" {
		srv, _, err := serveMetrics(cfg.MetricsAddress, reg, health.Ready, cfg.Pprof, defaultHTTPLimits(), log)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(shutdown)
		}()
	}

	// The kernel source starts before the runtime is reached, so that no
	// signal is missed while the agent waits for it. Its attribution
	// registry is the first consumer of the tracker's changes.
	var consumers []pipeline.Consumer
	// The source's metrics exist whether or not it runs, so that a
	// dashboard shows zeros rather than nothing.
	kernelMetrics := kernel.NewMetrics(reg, m.dropped, m.repaired.WithLabelValues(repairedKernel))
	kernelUp := criMetrics.SourceUp.WithLabelValues("ebpf")
	kernelUp.Set(0)
	if !cfg.Kernel.Enabled {
		unavailable = append(unavailable, "ebpf")
		log.Info("eBPF source disabled by flag; CRI only")
	} else if src, err := kernel.New(kernelConfig(cfg), cfg.NodeName, queue.Events(pipeline.SourceKernel), releases, kernelMetrics, log); err != nil {
		unavailable = append(unavailable, "ebpf")
		log.Error("eBPF source unavailable; continuing with CRI only", "err", err)
	} else {
		// Loading the probes parsed the kernel's BTF: several MiB of heap,
		// garbage now, which the runtime would hand back to the kernel
		// only over minutes. Returned at once, an idle agent's RSS is what
		// it uses.
		debug.FreeOSMemory()
		sources = append(sources, "ebpf")
		consumers = append(consumers, pipeline.Subscribers(src.Attribution()))
		src.ReportExits(tracker)
		if policy != nil {
			policy.UseKernel(src.Windows())
		}
		kernelUp.Set(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			src.Run(ctx)
			kernelUp.Set(0)
		}()
	}

	// The readiness reader learns of running containers from the tracker
	// and reads them on its own schedule; it asks the runtime for their
	// stop signals once the runtime is reached (stops.RS), before it runs.
	stops := &cri.StopSignals{}
	ready := readiness.New(cfg.NodeName, summariesOnly(emit, cfg.SummariesOnly), diagnose.InitReader{Now: time.Now}, stops, time.Now, cfg.Readiness, log)
	consumers = append(consumers, pipeline.Subscribers(releases), pipeline.Subscribers(corr), pipeline.Subscribers(ready), pipeline.Events(corr.Observe), pipeline.Events(ready.Observe))
	if policy != nil {
		consumers = append(consumers, pipeline.Subscribers(policy))
		wg.Add(1)
		go func() {
			defer wg.Done()
			policy.Run(ctx)
		}()
	}
	if !cfg.SummariesOnly {
		consumers = append(consumers, pipeline.Events(emit))
	}
	// The queue runs until every source has stopped, then drains; the
	// sinks are closed after it (out.Close, deferred first).
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		queue.Run(consumers...)
	}()
	defer func() {
		wg.Wait()
		queue.Stop()
		<-drained
	}()

	rs, rt, err := connect(ctx, cfg, log)
	if err != nil {
		return nil // ctx ended while waiting for the runtime
	}
	defer rs.Close(context.Background())

	obs := cri.NewObserver(rs, rt, tracker, health, cfg.Observer, criMetrics, log)
	if err := obs.Seed(ctx); err != nil {
		log.Warn("initial listing failed; existing containers will be reported as new", "err", err)
	}
	stops.RS = rs
	for _, run := range []func(context.Context){corr.Run, releases.Run, ready.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}

	if obs.UsesStream() {
		sources = append(sources, "cri_stream")
	}
	if addr := containerdAddress(cfg, rt); addr != "" {
		sources = append(sources, "containerd")
		w := containerd.NewWatcher(addr, tracker.Apply, releases.SnapshotRemoved, criMetrics, cfg.Observer.Backoff, log)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				log.Error("containerd events unavailable", "err", err)
			}
		}()
	}
	log.Info("sources", "live", strings.Join(sources, ","), "unavailable", strings.Join(unavailable, ","), "runtime", rt.String(), "node", cfg.NodeName)
	obs.Run(ctx)
	log.Info("shutting down")
	return nil
}

// connect dials the runtime and identifies it, retrying with backoff until
// it answers or ctx ends. Each failure is one log line.
func connect(ctx context.Context, cfg Config, log *slog.Logger) (cri.RuntimeService, cri.Runtime, error) {
	backoff := cfg.Observer.Backoff
	for {
		rs, err := cri.Dial(ctx, cfg.CRIEndpoint, cfg.CRITimeout)
		if err == nil {
			var v *runtimeVersion
			v, err = version(ctx, rs)
			if err == nil {
				rt, perr := cri.ParseRuntime(v.name, v.version)
				if perr != nil {
					log.Warn("runtime version not understood; assuming no safe event stream", "err", perr)
				}
				log.Info("runtime detected", "name", rt.Name, "version", rt.Version, "cri_api", v.apiVersion)
				return rs, rt, nil
			}
			rs.Close(ctx)
		}
		d := backoff.Step()
		log.Error("container runtime not reachable; retrying", "endpoint", cfg.CRIEndpoint, "err", err, "retry_in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil, cri.Runtime{}, ctx.Err()
		case <-time.After(d):
		}
	}
}

type runtimeVersion struct{ name, version, apiVersion string }

func version(ctx context.Context, rs cri.RuntimeService) (*runtimeVersion, error) {
	v, err := rs.Version(ctx, "v1")
	if err != nil {
		return nil, fmt.Errorf("query runtime version: %w", err)
	}
	return &runtimeVersion{name: v.RuntimeName, version: v.RuntimeVersion, apiVersion: v.RuntimeApiVersion}, nil
}

// containerdAddress picks the containerd socket to watch, if any. containerd
// serves CRI and its own API on one socket, so the CRI endpoint is the default.
func containerdAddress(cfg Config, rt cri.Runtime) string {
	switch {
	case cfg.ContainerdAddress == ContainerdOff:
		return ""
	case cfg.ContainerdAddress != "":
		return cfg.ContainerdAddress
	case rt.IsContainerd():
		return strings.TrimPrefix(cfg.CRIEndpoint, "unix://")
	}
	return ""
}

// kernelConfig is the kernel source's configuration with the recording
// mode applied: with --record all, or with no policy to open windows, the
// kernel lets every event of a container's processes through.
// summariesOnly passes the correlator's summaries and stuck reports to
// emit, and, unless only they are wanted, its evidence events too
// (container_inspected), which --summaries-only leaves out like the
// sources' events.
func summariesOnly(emit func(*apiv1.Event), only bool) func(*apiv1.Event) {
	if !only {
		return emit
	}
	return func(e *apiv1.Event) {
		switch e.Kind {
		case apiv1.KindTerminationSummary, apiv1.KindContainerSummary, apiv1.KindStuck:
			emit(e)
		}
	}
}

func kernelConfig(cfg Config) kernel.Config {
	k := cfg.Kernel
	k.Probe.RecordAll = cfg.Record.Mode == record.ModeAll || cfg.SummariesOnly
	return k
}
