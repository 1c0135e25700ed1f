package cri

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Config tunes an Observer.
type Config struct {
	// RelistPeriod is how often the runtime is relisted when no event stream
	// is live.
	RelistPeriod time.Duration
	// SafetyRelistPeriod is the slower relist kept while the stream is live,
	// as a net under anything the stream misses.
	SafetyRelistPeriod time.Duration
	// DisableStream forces relisting even where the event stream is safe.
	DisableStream bool
	// Backoff paces retries of a stream that broke.
	Backoff wait.Backoff
}

// DefaultConfig returns the settings the agent starts with.
func DefaultConfig() Config {
	return Config{
		RelistPeriod:       time.Second,
		SafetyRelistPeriod: 30 * time.Second,
		Backoff:            wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 1 << 30, Cap: 10 * time.Second},
	}
}

// Observer follows a CRI runtime's sandboxes and containers, by stream where
// that is safe and by relist always, and feeds a Tracker.
type Observer struct {
	rs      RuntimeService
	rt      Runtime
	tracker *Tracker
	cfg     Config
	metrics *Metrics
	log     *slog.Logger

	// relistMu serialises relists, which the stream goroutine also triggers.
	relistMu sync.Mutex
	// health is the outcome of the relists, shared with whoever asks.
	health *RelistHealth
}

// NewObserver returns an Observer for a runtime already connected and
// identified. It records its relists' outcomes in health.
func NewObserver(rs RuntimeService, rt Runtime, tracker *Tracker, health *RelistHealth, cfg Config, m *Metrics, log *slog.Logger) *Observer {
	return &Observer{rs: rs, rt: rt, tracker: tracker, health: health, cfg: cfg, metrics: m, log: log}
}

// Seed lists what already exists into the tracker without emitting events.
func (o *Observer) Seed(ctx context.Context) error {
	err := o.relist(ctx, false)
	if err == nil {
		o.health.record(nil)
	}
	return err
}

// UsesStream reports whether the observer subscribes to GetContainerEvents.
func (o *Observer) UsesStream() bool {
	return !o.cfg.DisableStream && o.rt.EventStreamSafe()
}

// Run follows the runtime until ctx ends. It never returns early: a broken
// stream falls back to relisting and is retried with backoff; a failing
// relist is logged, counted and retried at the next period.
func (o *Observer) Run(ctx context.Context) {
	streamLive := make(chan bool, 1)
	if o.UsesStream() {
		go o.streamLoop(ctx, streamLive)
	} else {
		o.log.Info("CRI event stream not used; relisting", "runtime", o.rt.String(), "period", o.cfg.RelistPeriod)
	}
	live := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case live = <-streamLive:
			if !live {
				// Catch up at once on what the broken stream may have missed.
				o.relistAndLog(ctx)
			}
		case <-timer.C:
			o.relistAndLog(ctx)
			o.tracker.Prune()
		}
		period := o.cfg.RelistPeriod
		if live {
			period = o.cfg.SafetyRelistPeriod
		}
		timer.Reset(period)
	}
}

// relistAndLog relists and logs only the changes between failing and
// working, so that a runtime that is down for minutes is one line, not one
// a second.
func (o *Observer) relistAndLog(ctx context.Context) {
	err := o.relist(ctx, true)
	if ctx.Err() != nil {
		return // shutting down: not the runtime's failure
	}
	was := o.health.record(err)
	switch {
	case err != nil:
		o.metrics.RelistErrors.Inc()
		o.metrics.SourceUp.WithLabelValues(SourceRelist).Set(0)
		if was != relistFailed {
			o.log.Error("CRI relist failed; will retry", "err", err)
		}
	default:
		o.metrics.SourceUp.WithLabelValues(SourceRelist).Set(1)
		if was == relistFailed {
			o.log.Info("CRI relist recovered")
		}
	}
}

// describeContainer builds the observation for a container in the given CRI
// state. It asks the runtime only for what the tracker still lacks: the pid
// of a running container and the exit status of an exited one.
func (o *Observer) describeContainer(ctx context.Context, base Observation, state runtimeapi.ContainerState) (Observation, bool) {
	kind, ok := kindForState(state)
	if !ok {
		return base, false
	}
	base.Kind = kind
	known, needPid, needExit := o.tracker.ContainerNeeds(base.ID)
	if (known || base.Meta != nil) && !(kind == ContainerStarted && needPid) && !(kind == ContainerStopped && needExit) {
		return base, true
	}
	return o.fetchStatus(ctx, base)
}

// fetchStatus completes obs from the runtime's verbose ContainerStatus. The
// reply's state wins over what the caller believed.
func (o *Observer) fetchStatus(ctx context.Context, obs Observation) (Observation, bool) {
	st, err := o.rs.ContainerStatus(ctx, obs.ID, true)
	if err != nil || st.GetStatus() == nil {
		if isNotFound(err) {
			// Removed since it was listed. Its removal is reported by the
			// next relist or the stream's DELETED event, in order with its
			// sandbox's stop, which may also have happened since. That it
			// had exited was seen, and is reported now, before the stop.
			return obs, obs.Meta != nil && obs.Kind == ContainerStopped
		}
		if err == nil {
			err = errors.New("empty status")
		}
		o.log.Warn("container status failed", "container", obs.ID, "err", err)
		// Without a status an exit would be reported as unknown; the next
		// relist tries again. Anything else is safe to report now.
		return obs, obs.Meta != nil && obs.Kind != ContainerStopped
	}
	s := st.GetStatus()
	kind, ok := kindForState(s.State)
	if !ok {
		return obs, false
	}
	obs.Kind = kind
	obs.StartedAt = unixNano(s.StartedAt)
	if obs.CreatedAt.IsZero() {
		obs.CreatedAt = unixNano(s.CreatedAt)
	}
	if obs.Meta == nil {
		m := o.parseContainerMeta(s.Labels, s.Annotations)
		obs.Meta = &m
	}
	info, err := ParseVerboseInfo(st.GetInfo())
	if err != nil {
		o.metrics.Warnings.WithLabelValues("status.info").Inc()
		o.log.Warn("container pid and cgroup unknown", "container", obs.ID, "err", err)
	}
	obs.CgroupsPath = info.CgroupsPath
	switch kind {
	case ContainerStarted:
		obs.Pid = info.Pid
	case ContainerStopped:
		obs.Exit = &Exit{Code: s.ExitCode, Reason: s.Reason, At: unixNano(s.FinishedAt)}
	}
	return obs, true
}

// describeSandbox adds what the verbose sandbox status says (pid, cgroup,
// network namespace) to the first observation of a sandbox.
func (o *Observer) describeSandbox(ctx context.Context, obs Observation) Observation {
	if obs.Meta == nil {
		return obs // already known
	}
	st, err := o.rs.PodSandboxStatus(ctx, obs.ID, true)
	if err != nil {
		o.log.Debug("sandbox status failed", "sandbox", obs.ID, "err", err)
		return obs
	}
	info, err := ParseVerboseInfo(st.GetInfo())
	if err != nil {
		o.metrics.Warnings.WithLabelValues("status.info").Inc()
		o.log.Warn("sandbox pid and network namespace unknown", "sandbox", obs.ID, "err", err)
	}
	obs.Pid, obs.CgroupsPath, obs.NetNS = info.Pid, info.CgroupsPath, info.NetNS
	return obs
}

func kindForState(s runtimeapi.ContainerState) (ObservationKind, bool) {
	switch s {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		return ContainerCreated, true
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return ContainerStarted, true
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		return ContainerStopped, true
	}
	return 0, false
}

// settle asks the runtime about a sandbox's containers that the tracker has
// not yet seen reach want, so that their events precede the sandbox's own.
func (o *Observer) settle(ctx context.Context, sandboxID string, want stage, source string) {
	for _, id := range o.tracker.unsettled(sandboxID, want) {
		obs, ok := o.fetchStatus(ctx, Observation{ID: id, SandboxID: sandboxID, Time: time.Now(), Source: source})
		if ok {
			o.tracker.Apply(obs)
		}
	}
}

func (o *Observer) parseContainerMeta(labels, annotations map[string]string) Meta {
	m, ws := ParseContainerMeta(labels, annotations)
	o.warn(ws)
	return m
}

func (o *Observer) parseSandboxMeta(labels map[string]string) Meta {
	m, ws := ParseSandboxMeta(labels)
	o.warn(ws)
	return m
}

func (o *Observer) warn(ws []Warning) {
	for _, w := range ws {
		o.metrics.Warnings.WithLabelValues(w.Key).Inc()
		o.log.Warn("kubelet metadata not understood; treating as unknown", "err", w.Error())
	}
}
