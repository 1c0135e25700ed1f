package cri

import (
	"context"
	"errors"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// streamLoop subscribes to GetContainerEvents until ctx ends, reconnecting
// with backoff whenever the stream breaks. It reports on live whether the
// stream is up; the relist loop slows down while it is.
func (o *Observer) streamLoop(ctx context.Context, live chan<- bool) {
	backoff := o.cfg.Backoff
	setLive := func(v bool) {
		up := 0.0
		if v {
			up = 1
		}
		o.metrics.SourceUp.WithLabelValues(SourceStream).Set(up)
		select {
		case live <- v:
		case <-ctx.Done():
		}
	}
	for ctx.Err() == nil {
		connected := false
		err := o.streamOnce(ctx, func() {
			connected = true
			backoff = o.cfg.Backoff
			o.log.Info("CRI event stream connected", "runtime", o.rt.String())
			setLive(true)
		})
		if ctx.Err() != nil {
			return
		}
		if connected {
			setLive(false)
		}
		o.metrics.Reconnects.WithLabelValues(SourceStream).Inc()
		wait := backoff.Step()
		o.log.Warn("CRI event stream broke; relisting until it is back", "err", err, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// streamOnce runs one GetContainerEvents subscription until it fails.
func (o *Observer) streamOnce(ctx context.Context, onConnect func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan *runtimeapi.ContainerEventResponse, 256)
	done := make(chan error, 1)
	go func() {
		done <- o.rs.GetContainerEvents(ctx, events, func(runtimeapi.RuntimeService_GetContainerEventsClient) { onConnect() })
	}()
	for {
		select {
		case ev := <-events:
			o.handleEvent(ctx, ev)
		case err := <-done:
			// Drain what arrived before the stream ended.
			for {
				select {
				case ev := <-events:
					o.handleEvent(ctx, ev)
				default:
					if err == nil {
						err = errors.New("event stream ended")
					}
					return err
				}
			}
		case <-ctx.Done():
			// cri-client sends on events without watching ctx; keep
			// receiving until its goroutine has returned.
			for {
				select {
				case <-events:
				case err := <-done:
					return err
				}
			}
		}
	}
}

// handleEvent turns one CRI container event into tracker observations.
// containerd sends sandbox events with the sandbox ID as the container ID.
func (o *Observer) handleEvent(ctx context.Context, ev *runtimeapi.ContainerEventResponse) {
	id := ev.GetContainerId()
	if id == "" {
		o.warn([]Warning{{Key: "event.container_id", Err: errMissing}})
		return
	}
	at := unixNano(ev.CreatedAt)
	if at.IsZero() {
		at = time.Now()
	}
	sb := ev.GetPodSandboxStatus()
	if (sb != nil && sb.Id == id) || o.tracker.IsSandbox(id) {
		o.handleSandboxEvent(ctx, ev, at)
		return
	}

	base := Observation{ID: id, Time: at, Source: SourceStream}
	if sb != nil {
		base.SandboxID = sb.Id
	}
	if ev.ContainerEventType == runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT {
		base.Kind = ContainerRemoved
		o.tracker.Apply(base)
		return
	}
	var st *runtimeapi.ContainerStatus
	for _, s := range ev.GetContainersStatuses() {
		if s.GetId() == id {
			st = s
			break
		}
	}
	if st == nil {
		// The event came without this container's status: ask for it.
		if obs, ok := o.fetchStatus(ctx, base); ok {
			o.tracker.Apply(obs)
		}
		return
	}
	base.CreatedAt = unixNano(st.CreatedAt)
	base.StartedAt = unixNano(st.StartedAt)
	if known, _, _ := o.tracker.ContainerNeeds(id); !known {
		m := o.parseContainerMeta(st.Labels, st.Annotations)
		base.Meta = &m
	}
	state := st.State
	switch ev.ContainerEventType {
	case runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT:
		state = runtimeapi.ContainerState_CONTAINER_CREATED
	case runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT:
		state = runtimeapi.ContainerState_CONTAINER_RUNNING
	case runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT:
		state = runtimeapi.ContainerState_CONTAINER_EXITED
		if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			base.Exit = &Exit{Code: st.ExitCode, Reason: st.Reason, At: unixNano(st.FinishedAt)}
		}
	}
	if base.Exit != nil {
		base.Kind = ContainerStopped
		o.tracker.Apply(base)
		return
	}
	if obs, ok := o.describeContainer(ctx, base, state); ok {
		o.tracker.Apply(obs)
	}
}

func (o *Observer) handleSandboxEvent(ctx context.Context, ev *runtimeapi.ContainerEventResponse, at time.Time) {
	id := ev.ContainerId
	obs := Observation{ID: id, Time: at, Source: SourceStream}
	if sb := ev.GetPodSandboxStatus(); sb != nil && !o.tracker.IsSandbox(id) {
		m := o.parseSandboxMeta(sb.Labels)
		obs.Meta = &m
	}
	switch ev.ContainerEventType {
	case runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT:
		obs.Kind = SandboxReady
		obs = o.describeSandbox(ctx, obs)
	case runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT:
		o.settle(ctx, id, stageStopped, SourceStream)
		obs.Kind = SandboxStopped
	case runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT:
		o.settle(ctx, id, stageRemoved, SourceStream)
		obs.Kind = SandboxRemoved
	default:
		return
	}
	o.tracker.Apply(obs)
}
