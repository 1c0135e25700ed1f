package cri

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// relist reads every sandbox and container from the runtime and reports each
// one's current state to the tracker, which emits whatever is new. Objects
// the tracker knew before the listing began and that are no longer listed
// have been removed. Containers go first, so that within one relist a
// container's events precede its sandbox's. With emit false the state is
// only recorded.
func (o *Observer) relist(ctx context.Context, emit bool) error {
	o.relistMu.Lock()
	defer o.relistMu.Unlock()
	o.metrics.Relists.Inc()
	apply := o.tracker.Apply
	if !emit {
		apply = o.tracker.Seed
	}

	// Containers are listed before sandboxes: the kubelet stops a sandbox
	// before it removes the sandbox's containers, so a container already
	// gone from the first listing is sure to have a stopped (or gone)
	// sandbox in the second. The other order can see a removed container
	// next to a sandbox that still looks ready.
	start := time.Now()
	containers, err := o.rs.ListContainers(ctx, nil)
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	sandboxes, err := o.rs.ListPodSandbox(ctx, nil)
	if err != nil {
		return fmt.Errorf("list pod sandboxes: %w", err)
	}
	knownContainers, knownSandboxes := o.tracker.Known(start)
	now := time.Now()

	// Apply in the order the kubelet acts, so that a relist that finds a pod
	// already half torn down still reports its steps in their real order:
	// sandbox ready, container state, sandbox stop, container removal,
	// sandbox removal. A pod started since the last relist is thus known
	// by its sandbox before its containers, as the kernel's events of its
	// pause process came before theirs and are attributed in that order.
	var readySandboxes, removedContainers, stoppedSandboxes, removedSandboxes []Observation
	listed := make(map[string]bool, len(containers)+len(sandboxes))
	for _, s := range sandboxes {
		if s.GetId() == "" {
			o.warn([]Warning{{Key: "sandbox.id", Err: errMissing}})
			continue
		}
		listed[s.Id] = true
		obs := Observation{Kind: SandboxReady, ID: s.Id, Time: now, Source: SourceRelist}
		if !o.tracker.IsSandbox(s.Id) {
			m := o.parseSandboxMeta(s.Labels)
			obs.Meta = &m
		}
		obs = o.describeSandbox(ctx, obs)
		if s.State == runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
			obs.Kind = SandboxStopped
			stoppedSandboxes = append(stoppedSandboxes, obs)
			continue
		}
		readySandboxes = append(readySandboxes, obs)
	}
	for _, obs := range readySandboxes {
		apply(obs)
	}
	for _, c := range containers {
		if c.GetId() == "" {
			o.warn([]Warning{{Key: "container.id", Err: errMissing}})
			continue
		}
		listed[c.Id] = true
		base := Observation{ID: c.Id, SandboxID: c.PodSandboxId, CreatedAt: unixNano(c.CreatedAt), Time: now, Source: SourceRelist}
		if known, _, _ := o.tracker.ContainerNeeds(c.Id); !known {
			// Only new objects are parsed, so a malformed annotation is
			// warned about once, not at every relist.
			m := o.parseContainerMeta(c.Labels, c.Annotations)
			base.Meta = &m
		}
		if obs, ok := o.describeContainer(ctx, base, c.State); ok {
			apply(obs)
		}
	}
	for _, id := range knownContainers {
		if !listed[id] {
			removedContainers = append(removedContainers, Observation{Kind: ContainerRemoved, ID: id, Time: now, Source: SourceRelist})
		}
	}
	for _, obs := range removedContainers {
		// A removed container was stopped first, before its sandbox.
		obs.Kind = ContainerStopped
		apply(obs)
	}

	for _, id := range knownSandboxes {
		if !listed[id] {
			// A removed sandbox was stopped first.
			obs := Observation{Kind: SandboxStopped, ID: id, Time: now, Source: SourceRelist}
			stoppedSandboxes = append(stoppedSandboxes, obs)
			obs.Kind = SandboxRemoved
			removedSandboxes = append(removedSandboxes, obs)
		}
	}
	for _, group := range [][]Observation{stoppedSandboxes, removedContainers, removedSandboxes} {
		for _, obs := range group {
			apply(obs)
		}
	}
	o.tracker.Listed(Listing{Began: start, Streamed: o.UsesStream()})
	return nil
}

func isNotFound(err error) bool {
	return status.Code(err) == codes.NotFound
}
