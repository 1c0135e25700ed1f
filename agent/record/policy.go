// Package record decides which of the agent's events a node records: the
// recording policy. It sits between the pipeline's consumers and the sinks,
// and is the one place where events are left out on purpose.
//
// A node records:
//   - always: the lifecycle and release events, summaries and stuck
//     reports, OOM kills, preStop execs, CNI failures; a container's init
//     process (its PID 1 as the runtime reports it, and the sandbox's
//     pause); signals sent from outside the target's container (the
//     runtime, the host, another container, the kernel);
//   - inside a termination window: every kernel event of the container's
//     processes. A container's window opens at the first sign of its end
//     (a stop signal to its init from outside, a preStop exec, an OOM kill,
//     its init's exit, container_exited or container_stopped); the whole
//     pod's opens at the first sign of the pod's own end (a stop signal to
//     the sandbox, or sandbox_stopped). A container's window closes at its
//     container_summary, the pod's at its termination_summary;
//   - before the window: the last History events of each container's
//     other processes, shipped into the stream, in their order, just
//     before the event that opens the window (or before the summary, for a
//     container whose window never opened). Older ones are dropped and
//     counted.
//
// Repeated deliveries of the same signal to the same process (the pause
// process's SIGKILL, delivered to each of its threads) become one row with
// a count: a signal_delivered row waits a second for its repeats (or until
// the summary) and is then sent with the time of the first, so it can come
// after later events in the stream. Its threads take a SIGKILL even after
// the leader's exit is reported, so no other event can end the wait.
// The SIGKILLs the kernel delivers to runc init's other threads when it
// execs the workload are not about any termination, and are dropped and
// counted.
package record

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/pacer"
)

// Reasons of graceline_events_dropped_total for the events the policy
// leaves out.
const (
	// DroppedOutsideWindow: an event of a container's other processes,
	// before its window, pushed out of the bounded history.
	DroppedOutsideWindow = "record_outside_window"
	// DroppedRuncInit: the kernel's SIGKILL to a runc init thread as runc
	// init execs the workload.
	DroppedRuncInit = "record_runc_init"
	// DroppedLateRepeat: a thread's SIGKILL that came after its process's
	// row was sent whole (see pod.killed).
	DroppedLateRepeat = "record_late_repeat"
)

// holdFor is how long a SIGKILL's row waits for repeats when the kernel did
// not say how many threads the target had. The repeats come within
// milliseconds (one per thread); a second also bounds how late a held row
// reaches the sinks.
const holdFor = time.Second

// holdKill is how long a SIGKILL's row waits for the deliveries its
// target's thread count promises. On a node busy stopping many pods a
// thread can wait for a CPU for more than a second; the termination's
// summary sends the row at once, so the bound matters only when neither
// the last delivery nor a summary comes.
const holdKill = 10 * time.Second

// forgetAfter is how long a pod's state outlives its sandbox's removal when
// no summary came, and how long a summarised pod's late events are passed
// through without new state.
const forgetAfter = time.Minute

// Metrics counts what the policy leaves out and collapses.
type Metrics struct {
	// Dropped is graceline_events_dropped_total, by reason.
	Dropped *prometheus.CounterVec
	// Collapsed counts signal rows folded into an earlier row's count.
	Collapsed prometheus.Counter
}

// NewMetrics registers the policy's own counter with reg and uses dropped,
// the agent's graceline_events_dropped_total, for its drops.
func NewMetrics(reg prometheus.Registerer, dropped *prometheus.CounterVec) *Metrics {
	m := &Metrics{Dropped: dropped, Collapsed: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "graceline_events_collapsed_total", Help: "Signal rows folded into an identical earlier row's count by the recording policy.",
	})}
	reg.MustRegister(m.Collapsed)
	for _, r := range []string{DroppedOutsideWindow, DroppedRuncInit, DroppedLateRepeat} {
		dropped.WithLabelValues(r)
	}
	return m
}

// Windows is the kernel's copy of the open termination windows
// (agent/kernel): outside them the kernel lets through only a sparse
// history of a container's other processes, so that those of a busy node
// cost nothing on their way here. Open and Close with containerID "" mean
// every container of the pod and its sandbox.
type Windows interface {
	Open(podUID, containerID string)
	Close(podUID, containerID string)
}

// windowChange is a change of the kernel's windows, made after the
// policy's lock is released.
type windowChange struct {
	podUID, containerID string
	open                bool
}

// Policy applies the recording policy and hands what it keeps to emit. It
// is a cri.Subscriber (for the init processes' pids). Emit is called from
// the pipeline's goroutine and from the correlator's, so the state has a
// lock; emit is called under it, to keep a history ahead of the event that
// ships it, which is safe because the sinks never wait.
type Policy struct {
	emit    func(*apiv1.Event)
	history int
	m       *Metrics
	now     func() time.Time

	// kernel is set by UseKernel before events flow; nil without eBPF.
	kernel Windows

	mu   sync.Mutex
	pods map[string]*pod
	done map[string]time.Time // summarised pods, so late events don't revive them
	// changes are the kernel's window changes decided under mu.
	changes []windowChange
	// pace runs Tick while rows are held or pods wait to be forgotten.
	pace *pacer.Pacer
}

type pod struct {
	uid        string
	sandboxPid int32
	open       bool // the pod's own window
	ctrs       map[string]*ctr
	// held are SIGKILL rows waiting for repeats, in the order they came,
	// with the rows that came after them.
	held []*held
	// exiting are the processes that dequeued a signal that ends them,
	// other than SIGKILL: their other threads dequeue a SIGKILL each.
	exiting map[int32]bool
	// killed says when each process's SIGKILL row was made. A process is
	// killed once: a delivery that comes after its row went out whole is
	// a thread the kernel's count missed (the count is read as the
	// threads exit, and the ring buffer can hand over a later thread's
	// delivery first), not a new kill, and is dropped and counted rather
	// than sent as a second row.
	killed    map[killKey]time.Time
	removedAt time.Time
}

// killKey names a process of a pod's container ("" for the sandbox).
type killKey struct {
	cid string
	pid int32
}

// ctr is one container of a pod; "" stands for the sandbox's processes.
type ctr struct {
	pid     int32
	open    bool
	history []*apiv1.Event
}

type held struct {
	e     *apiv1.Event
	until time.Time
	// want is how many deliveries make the row whole; 0 when not known.
	want uint32
}

// whole says whether every delivery h waits for came.
func (h *held) whole() bool { return h.want > 0 && max(h.e.Count, 1) >= h.want }

// New returns a Policy that records into emit.
func New(emit func(*apiv1.Event), cfg Config, m *Metrics) *Policy {
	return &Policy{emit: emit, history: cfg.history(), m: m, now: time.Now, pods: map[string]*pod{}, done: map[string]time.Time{},
		pace: pacer.New(holdFor / 2)}
}

// UseKernel has the policy open and close the kernel's windows as it opens
// and closes its own. Call it before events flow.
func (p *Policy) UseKernel(w Windows) { p.kernel = w }

// unlock releases the lock and then applies the window changes decided
// under it. Two callers' changes may reach the kernel in either order; a
// container's window opens at its first sign of an end and closes at its
// summary, far apart, so the order never matters.
func (p *Policy) unlock() {
	changes := p.changes
	p.changes = nil
	p.mu.Unlock()
	if p.kernel == nil {
		return
	}
	for _, c := range changes {
		if c.open {
			p.kernel.Open(c.podUID, c.containerID)
		} else {
			p.kernel.Close(c.podUID, c.containerID)
		}
	}
}

// window records a change of the kernel's windows; the caller holds mu.
func (p *Policy) window(pd *pod, cid string, open bool) {
	if p.kernel != nil {
		p.changes = append(p.changes, windowChange{podUID: pd.uid, containerID: cid, open: open})
	}
}

// ContainerChanged is part of cri.Subscriber: it learns the init's pid.
func (p *Policy) ContainerChanged(info cri.ContainerInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pd := p.podFor(info.Meta.PodUID); pd != nil && info.Pid > 0 {
		pd.ctr(info.ID).pid = info.Pid
	}
}

// SandboxChanged is part of cri.Subscriber: it learns the pause's pid.
func (p *Policy) SandboxChanged(info cri.SandboxInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pd := p.podFor(info.Meta.PodUID); pd != nil && info.Pid > 0 {
		pd.sandboxPid = info.Pid
	}
}

// Run flushes held rows and forgets old pods, while there are any, until
// ctx ends.
func (p *Policy) Run(ctx context.Context) { p.pace.Run(ctx, p.Tick) }

// Tick sends the signal rows whose hold ended, and forgets pods whose
// sandbox was removed forgetAfter ago without a summary. It says whether
// rows or pods are left to wait for.
func (p *Policy) Tick() (more bool) {
	p.mu.Lock()
	defer p.unlock()
	now := p.now()
	for uid, pd := range p.pods {
		p.releaseDue(pd, now)
		if !pd.removedAt.IsZero() && now.Sub(pd.removedAt) >= forgetAfter {
			p.release(pd)
			p.window(pd, "", false)
			delete(p.pods, uid)
			continue
		}
		more = more || len(pd.held) > 0 || !pd.removedAt.IsZero()
	}
	for uid, t := range p.done {
		if now.Sub(t) >= forgetAfter {
			delete(p.done, uid)
		}
	}
	return more || len(p.done) > 0
}

// Emit records e if the policy keeps it.
func (p *Policy) Emit(e *apiv1.Event) {
	p.mu.Lock()
	defer p.unlock()
	uid := e.GetPod().GetUid()
	pd := p.podFor(uid)
	if pd == nil {
		p.emit(e)
		return
	}
	cid := e.GetContainer().GetId()
	switch e.Kind {
	case apiv1.KindTerminationSummary:
		p.release(pd)
		p.open(pd, "", true)
		p.window(pd, "", false)
		p.emit(e)
		delete(p.pods, uid)
		p.done[uid] = p.now()
		p.pace.Wake()
		return
	case apiv1.KindContainerSummary:
		p.release(pd)
		p.ship(pd.ctr(cid))
		p.window(pd, cid, false)
		p.emit(e)
		delete(pd.ctrs, cid)
		return
	case apiv1.KindSignalGenerated, apiv1.KindSignalDelivered, apiv1.KindProcessExited, apiv1.KindExec:
		p.process(pd, cid, e)
		return
	case apiv1.KindSandboxRemoved:
		pd.removedAt = p.now()
		p.pace.Wake()
	case apiv1.KindContainerStarted:
		if pid := e.GetProcess().GetPid(); pid > 0 {
			pd.ctr(cid).pid = pid
		}
	}
	if opens(e) {
		p.open(pd, cid, e.Kind == apiv1.KindSandboxStopped)
	}
	p.emit(e)
}

// process applies the policy to a kernel event of a pod's process.
func (p *Policy) process(pd *pod, cid string, e *apiv1.Event) {
	if runcInitThread(e) {
		p.m.Dropped.WithLabelValues(DroppedRuncInit).Inc()
		return
	}
	for _, h := range pd.held {
		if e.Kind == apiv1.KindSignalDelivered && e.GetSignal().GetName() == "SIGKILL" && same(h.e, e) {
			h.e.Count = max(h.e.Count, 1) + 1
			p.m.Collapsed.Inc()
			if h.whole() {
				p.releaseDue(pd, p.now())
			}
			return
		}
	}
	if e.Kind == apiv1.KindSignalDelivered && e.GetSignal().GetName() == "SIGKILL" {
		// A pid is not reused within holdKill in practice; past it, a
		// SIGKILL to the same pid is another process's.
		if at, ok := pd.killed[killKey{cid, e.GetTarget().GetPid()}]; ok && p.now().Sub(at) < holdKill {
			p.m.Dropped.WithLabelValues(DroppedLateRepeat).Inc()
			return
		}
	}
	c := pd.ctr(cid)
	init := pd.isInit(cid, e)
	outside := fromOutside(cid, e)
	if init && (outside && stopSignal(e) || e.Kind == apiv1.KindProcessExited) {
		p.open(pd, cid, cid == "")
	}
	if !init && !outside && !pd.open && !c.open {
		p.remember(c, e)
		return
	}
	if e.Kind == apiv1.KindSignalDelivered {
		p.deliver(pd, e)
		return
	}
	p.emit(e)
}

// deliver records a signal_delivered row. Only a SIGKILL repeats: when a
// process exits on a signal, each of its threads dequeues one. Its row
// waits for as many deliveries as the process had threads (one fewer when
// another signal began the exit, as that thread dequeued it instead), or
// for holdKill; any other row leaves at once, unless a SIGKILL's row is
// still held, as rows leave in the order they came.
func (p *Policy) deliver(pd *pod, e *apiv1.Event) {
	pid := e.GetTarget().GetPid()
	if e.GetSignal().GetName() != "SIGKILL" {
		if e.Disposition == "default" && terminates(e.GetSignal().GetNumber()) {
			if pd.exiting == nil {
				pd.exiting = map[int32]bool{}
			}
			pd.exiting[pid] = true
		}
		if len(pd.held) == 0 {
			p.emit(e)
			return
		}
		pd.held = append(pd.held, &held{e: e, until: p.now()})
		p.releaseDue(pd, p.now())
		return
	}
	if pd.killed == nil {
		pd.killed = map[killKey]time.Time{}
	}
	pd.killed[killKey{e.GetContainer().GetId(), pid}] = p.now()
	h := &held{e: e, until: p.now().Add(holdFor)}
	if n := e.GetTarget().GetThreads(); n > 0 {
		h.want, h.until = uint32(n), p.now().Add(holdKill)
		if pd.exiting[pid] && n > 1 {
			h.want--
		}
	}
	pd.held = append(pd.held, h)
	p.releaseDue(pd, p.now())
	if len(pd.held) > 0 {
		p.pace.Wake()
	}
}

// terminates says whether signal n's default action ends the process.
func terminates(n int32) bool {
	switch syscall.Signal(n) {
	case syscall.SIGCHLD, syscall.SIGCONT, syscall.SIGSTOP, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGURG, syscall.SIGWINCH:
		return false
	}
	return true
}

// remember keeps e in c's bounded history, dropping the oldest.
func (p *Policy) remember(c *ctr, e *apiv1.Event) {
	if len(c.history) == p.history {
		copy(c.history, c.history[1:])
		c.history = c.history[:len(c.history)-1]
		p.m.Dropped.WithLabelValues(DroppedOutsideWindow).Inc()
	}
	c.history = append(c.history, e)
}

// open opens cid's window, or the pod's when whole, shipping the history
// of what it covers first.
func (p *Policy) open(pd *pod, cid string, whole bool) {
	if whole {
		if !pd.open {
			p.window(pd, "", true)
		}
		pd.open = true
		// The containers' histories go out merged in time order (ties in
		// container ID order), not in the map's order, which changes from
		// run to run.
		var hist []*apiv1.Event
		for _, id := range slices.Sorted(maps.Keys(pd.ctrs)) {
			hist = append(hist, pd.ctrs[id].history...)
			pd.ctrs[id].history = nil
		}
		slices.SortStableFunc(hist, func(a, b *apiv1.Event) int { return a.GetTime().AsTime().Compare(b.GetTime().AsTime()) })
		for _, e := range hist {
			p.emit(e)
		}
		return
	}
	c := pd.ctr(cid)
	if !c.open {
		p.window(pd, cid, true)
	}
	c.open = true
	p.ship(c)
}

func (p *Policy) ship(c *ctr) {
	for _, e := range c.history {
		p.emit(e)
	}
	c.history = nil
}

// release sends pd's held rows, with their counts.
func (p *Policy) release(pd *pod) {
	for _, h := range pd.held {
		p.emit(h.e)
	}
	pd.held = nil
}

// releaseDue sends pd's rows that are whole or held until now or
// earlier. A row waits for the ones held before it, so that rows leave in
// the order they came.
func (p *Policy) releaseDue(pd *pod, now time.Time) {
	n := 0
	for n < len(pd.held) && (pd.held[n].whole() || !pd.held[n].until.After(now)) {
		p.emit(pd.held[n].e)
		n++
	}
	pd.held = pd.held[n:]
}

// podFor returns uid's state, creating it; nil for events of no pod and
// late events of a summarised pod, which pass as they are.
func (p *Policy) podFor(uid string) *pod {
	if uid == "" {
		return nil
	}
	if _, done := p.done[uid]; done {
		return nil
	}
	pd := p.pods[uid]
	if pd == nil {
		pd = &pod{uid: uid, ctrs: map[string]*ctr{}}
		p.pods[uid] = pd
	}
	return pd
}

func (pd *pod) ctr(id string) *ctr {
	c := pd.ctrs[id]
	if c == nil {
		c = &ctr{}
		pd.ctrs[id] = c
	}
	return c
}

// isInit says whether e is about the init process of cid (the sandbox's
// for ""): the target of a signal, or the process that exited or exec'd.
// container_started also names the init, for a container the tracker has
// not reported yet.
func (pd *pod) isInit(cid string, e *apiv1.Event) bool {
	pid := e.GetProcess().GetPid()
	if e.Kind == apiv1.KindSignalGenerated || e.Kind == apiv1.KindSignalDelivered {
		pid = e.GetTarget().GetPid()
	}
	want := pd.sandboxPid
	if cid != "" {
		want = pd.ctr(cid).pid
	}
	return pid != 0 && pid == want
}

// fromOutside says whether e is a signal sent from outside the target's
// container: by the host, another container, or the kernel itself.
func fromOutside(cid string, e *apiv1.Event) bool {
	if e.Kind != apiv1.KindSignalGenerated {
		return false
	}
	s := e.GetSender()
	return s.GetKernel() != "" || s.GetContainerId() != cid
}

// stopSignal says whether e's signal is one a runtime stops a container
// with. Another signal from outside (a reload's SIGHUP) is recorded but
// opens no window, which only a summary would close.
func stopSignal(e *apiv1.Event) bool {
	switch e.GetSignal().GetName() {
	case "SIGTERM", "SIGKILL", "SIGINT", "SIGQUIT":
		return true
	}
	return false
}

// opens says whether a runtime or kernel event other than a process's
// opens a termination window.
func opens(e *apiv1.Event) bool {
	switch e.Kind {
	case apiv1.KindPreStopExec, apiv1.KindOOMKilled, apiv1.KindContainerExited, apiv1.KindContainerStopped, apiv1.KindSandboxStopped:
		return true
	}
	return false
}

// runcInitThread says whether e is the kernel's SIGKILL to one of runc
// init's other threads as it execs the workload (de_thread): delivered, with
// no signal_generated, to a thread that is not the leader.
func runcInitThread(e *apiv1.Event) bool {
	t := e.GetTarget()
	return e.Kind == apiv1.KindSignalDelivered && e.GetSignal().GetNumber() == 9 &&
		strings.HasPrefix(t.GetComm(), "runc:[") && t.GetTid() != t.GetPid()
}

// same says whether delivery b repeats a: the same signal and disposition,
// to the same process.
func same(a, b *apiv1.Event) bool {
	return a.GetContainer().GetId() == b.GetContainer().GetId() && a.GetTarget().GetPid() == b.GetTarget().GetPid() &&
		a.GetSignal().GetNumber() == b.GetSignal().GetNumber() && a.Disposition == b.Disposition
}
