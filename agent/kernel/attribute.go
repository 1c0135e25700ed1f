package kernel

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/cgroup"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/bpf/process"
	"github.com/graceline/graceline/bpf/signals"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/pacer"
)

// Bounds on the kernel event path. The ring buffer's reader never waits
// for a consumer: past these, events are dropped and counted.
const (
	// removalQueueLen bounds the cgroup removals on their way to the
	// release watcher.
	removalQueueLen = 1024
	// pendingLimit bounds the events held for their container.
	pendingLimit = 4096
)

// kernelSource turns probe events into contract events attributed to the
// target's container.
type kernelSource struct {
	probe  *kernelProbes
	reg    *registry
	emit   func(*apiv1.Event)
	node   string
	hostNS uint32
	window time.Duration
	// now tells the time for decisions; events carry the kernel's.
	now     func() time.Time
	dropped *prometheus.CounterVec
	// unattributed counts events emitted without a container.
	unattributed prometheus.Counter
	// repaired counts strings the probe found not valid UTF-8.
	repaired prometheus.Counter
	log      *slog.Logger

	// mu guards what the reader's goroutine shares with the periodic
	// work: the events held for their container, and the CNI runs. Its
	// holders do no I/O; emit does not wait.
	mu      sync.Mutex
	pending []kernelEvent
	// pace expires the held events and prunes removed containers while
	// there are any.
	pace *pacer.Pacer
	// cni follows CNI plugin runs; cniDirs are rescanned for new plugins
	// every cniRescan.
	cni       *cniRuns
	cniDirs   []string
	cniRescan time.Duration
	// cgroups receives the removals of the cgroups it registered with the
	// probe, through removals; nil when the probe does not report them.
	cgroups  cgroupRemovals
	removals chan cgroup.Event
	// cgroupRoot is where a container's memory cgroup is read after an
	// OOM kill; empty reads none.
	cgroupRoot string
	// exitsTo receives the exits of containers' inits, through exits; nil
	// unless ReportExits was called.
	exitsTo Observations
	exits   chan cri.Observation
}

// cgroupRemovals is the release watcher's side of the kernel's cgroup
// removal reports.
type cgroupRemovals interface {
	CgroupRemoved(id uint64, path string, at time.Time)
}

// run reads the kernel's events until ctx ends. The reader's goroutine
// attributes them itself (see handle); this one does the periodic work and
// hands the cgroup removals to the release watcher.
func (k *kernelSource) run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		undecodable, err := k.probe.run(ctx, k.handle)
		k.dropped.WithLabelValues("ebpf_undecodable").Add(float64(undecodable))
		if err != nil {
			k.log.Error("eBPF reader stopped", "err", err)
		}
	}()
	go k.pollKernelDrops(ctx)
	expired := make(chan struct{})
	go func() {
		defer close(expired)
		k.pace.Run(ctx, k.expire)
	}()
	k.attribute(ctx)
	<-done
	<-expired
}

// attribute retries the held events, follows new CNI plugins, hands the
// cgroup removals to the release watcher and the inits' exits to the
// runtime tracker, until ctx ends.
func (k *kernelSource) attribute(ctx context.Context) {
	rescan := time.NewTicker(k.cniRescan)
	defer rescan.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-k.removals:
			path := e.Path
			if e.PathTruncated {
				path = ""
			}
			k.cgroups.CgroupRemoved(e.ID, path, e.Time)
		case obs := <-k.exits:
			k.exitsTo.Apply(obs)
		case <-rescan.C:
			k.addCNIDirs()
			k.mu.Lock()
			k.cni.expire(k.now())
			k.mu.Unlock()
		case <-k.reg.changed:
			k.retryPending(false)
			// A removed container is to be pruned.
			k.pace.Wake()
		}
	}
}

// expire emits the events held past the window without a container and
// prunes the containers removed long enough ago; it says whether events
// are still held or removed containers still wait.
func (k *kernelSource) expire() (more bool) {
	waiting := k.reg.prune()
	return k.retryPending(true) > 0 || waiting
}

// handle emits e now if its target can be attributed, or holds it: a
// container's first events can arrive before the runtime reports it.
//
// It runs on the ring buffer reader's goroutine, so that an attributed event
// goes from the reader straight into the agent's queue: a queue of the
// source's own, and its goroutine, would add a hop and its wake-up to every
// event (see BenchmarkPipelineLatency). Nothing here waits: the registry's
// lock and k.mu are held only for lookups and bookkeeping, emit does not
// block, and the cgroup removals, for which the release watcher takes its
// own lock and may update the kernel's map, go through a bounded queue to
// the source's other goroutine, as do the exits of containers' inits, for
// which the runtime tracker takes its own lock.
func (k *kernelSource) handle(e kernelEvent) {
	if n := e.repaired(); n > 0 {
		k.repaired.Add(float64(n))
	}
	if e.cgroup != nil {
		if k.cgroups == nil {
			return
		}
		select {
		case k.removals <- *e.cgroup:
		default:
			k.dropped.WithLabelValues("ebpf_queue_full").Inc()
		}
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if e.cni != nil {
		if ev := k.cni.handle(*e.cni); ev != nil {
			k.emit(ev)
		}
		return
	}
	if e.process != nil && e.process.Type == process.Exit && !e.process.Leader {
		return // one process_exited per process, not per thread
	}
	if e.process != nil {
		if x, ok := k.reg.notice(e.process); ok {
			k.initExited(x, e.process)
		}
	}
	mntns, at := e.subject()
	if e.oom != nil {
		k.reg.oomKilled(mntns, at)
	}
	if ref, ok := k.reg.lookup(mntns, at); ok || mntns == k.hostNS {
		k.emit(k.convert(e, ref))
		return
	}
	if len(k.pending) >= pendingLimit {
		k.dropped.WithLabelValues("ebpf_pending_full").Inc()
		return
	}
	k.pending = append(k.pending, e)
	k.pace.Wake()
}

// retryPending emits the held events that now resolve, and with expire also
// those that expired, without a container. It returns how many are still
// held.
func (k *kernelSource) retryPending(expire bool) int {
	listing := k.reg.lastListing()
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	kept := k.pending[:0]
	for _, e := range k.pending {
		mntns, at := e.subject()
		ref, ok := k.reg.lookup(mntns, at)
		switch {
		case ok:
			k.emit(k.convert(e, ref))
		case expire && k.expired(at, now, listing):
			k.unattributed.Inc()
			k.emit(k.convert(e, nil))
		default:
			kept = append(kept, e)
		}
	}
	k.pending = kept
	return len(kept)
}

// heldAtMost bounds, in attribution windows, how long an event waits for a
// listing of the runtime: a runtime that cannot be listed does not hold
// the node's events for good.
const heldAtMost = 5

// expired tells whether an event at time at, of a namespace no container is
// known for, is to go without one. It waits out the attribution window,
// within which the runtime reports a container it started. Where the
// runtime is followed by listing alone, it also waits for a listing that
// began a window after the event: how late the agent lists and applies
// what it found then costs nothing. On a busy node that lateness passed
// the window, and a container's first events went out without it.
func (k *kernelSource) expired(at, now time.Time, listing cri.Listing) bool {
	switch held := now.Sub(at); {
	case held <= k.window:
		return false
	case listing.Streamed, !listing.Began.Before(at.Add(k.window)):
		return true
	default:
		return held > heldAtMost*k.window
	}
}

// addCNIDirs (re)registers the CNI bin directories with the kernel side,
// picking up directories and plugin links that appeared since.
func (k *kernelSource) addCNIDirs() {
	if len(k.cniDirs) == 0 {
		return
	}
	if _, err := k.probe.cni.AddBinDirs(k.cniDirs); err != nil {
		k.log.Debug("CNI bin dirs not all followed", "err", err)
	}
}

// kernelDropsEvery is how often the kernel's drop counters are read. The
// window filter counts all day on a busy node, so they always move; a
// scrape every 15 s or more needs no fresher count.
const kernelDropsEvery = 5 * time.Second

// pollKernelDrops moves the kernel's drop counters into the metric.
func (k *kernelSource) pollKernelDrops(ctx context.Context) {
	seen := map[string]uint64{}
	tick := time.NewTicker(kernelDropsEvery)
	defer tick.Stop()
	var lastWarn time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		drops, err := k.probe.shared.KernelDrops()
		if err != nil {
			k.log.Warn("read kernel drop counters", "err", err)
			continue
		}
		for reason, n := range drops {
			if n > seen[reason] {
				k.dropped.WithLabelValues("ebpf_" + reason).Add(float64(n - seen[reason]))
				// The drops by design go on all day on a busy node:
				// counted, never warned of.
				byDesign := reason == probe.DropOutsideWindow || reason == probe.DropExitingTarget
				if now := k.now(); !byDesign && now.Sub(lastWarn) > 10*time.Second {
					k.log.Warn("kernel events dropped", "reason", reason, "total", n)
					lastWarn = now
				}
				seen[reason] = n
			}
		}
	}
}

func (k *kernelSource) convert(ke kernelEvent, ref *containerRef) *apiv1.Event {
	_, at := ke.subject()
	ev := &apiv1.Event{Time: timestamppb.New(at), Node: k.node}
	if ref != nil {
		ev.Pod = ref.pod
		if !ref.sandbox {
			ev.Container = &apiv1.ContainerRef{Id: ref.id, Name: ref.name}
		}
	}
	if e := ke.signal; e != nil {
		target := &apiv1.Task{Pid: int32(e.Pid), Tid: int32(e.Tid), Comm: e.Comm}
		switch e.Type {
		case signals.Generate:
			ev.Kind = apiv1.KindSignalGenerated
			ev.Signal = &apiv1.Signal{Number: int32(e.Signal), Name: unix.SignalName(e.Signal), Result: e.Result.String()}
			ev.Target = target
			ev.Sender = &apiv1.Sender{Pid: int32(e.SenderPid), Comm: e.SenderComm}
			if s, ok := k.reg.lookup(e.SenderMntNS, e.Time); ok && !s.sandbox {
				ev.Sender.ContainerId = s.id
			}
			if e.SenderIsKernel {
				ev.Sender.Kernel = apiv1.SenderKernel
			}
		case signals.Deliver:
			ev.Kind = apiv1.KindSignalDelivered
			ev.Signal = &apiv1.Signal{Number: int32(e.Signal), Name: unix.SignalName(e.Signal)}
			ev.Target = target
			ev.Target.Threads = int32(e.Threads)
			ev.Disposition = e.Disposition.String()
		}
	}
	if e := ke.process; e != nil {
		switch e.Type {
		case process.Exit:
			ev.Kind = apiv1.KindProcessExited
			ev.Process = &apiv1.Process{Pid: int32(e.Pid), Comm: e.Comm}
			code, sig := e.ExitStatus, int32(e.ExitSignal)
			ev.ExitCode, ev.ExitSignal = &code, &sig
		case process.Exec:
			ev.Kind = apiv1.KindExec
			if ref != nil && len(ref.preStop) > 0 && slices.Equal(ref.preStop, e.Argv) {
				ev.Kind = apiv1.KindPreStopExec
			}
			ev.Process = &apiv1.Process{Pid: int32(e.Pid), Comm: e.Comm, Argv: e.Argv}
		}
	}
	if e := ke.oom; e != nil {
		k.convertOOM(ev, e, ref)
	}
	return ev
}
