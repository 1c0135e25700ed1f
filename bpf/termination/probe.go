// Package termination loads graceline's kernel probes for a pod's
// termination (signals generated and delivered, process exits, execs that
// enter a container, CNI plugin runs, removed cgroup directories) and reads
// their events.
//
// The typical path is New, then Run until the context ends, then Close.
package termination

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Config selects what the kernel side keeps.
type Config struct {
	// Signals to trace; DefaultSignals when empty.
	Signals []syscall.Signal
	// HostMntNS is the host's mount-namespace inode; events about host
	// processes are dropped in the kernel unless IncludeHost is set.
	HostMntNS   uint32
	IncludeHost bool
	// RatePerSec and Burst bound the events per mount namespace (that is,
	// per container) so that one container's signal storm cannot flood the
	// ring buffer for the others.
	RatePerSec uint64
	Burst      uint64
	// CNIOutput reads what CNI plugins write to stdout (their error
	// messages). It puts a probe on the entry of every system call, which
	// costs each one a little even while no plugin runs.
	CNIOutput bool
}

// DefaultSignals are the signals that decide a termination.
var DefaultSignals = []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGABRT}

// Probe is the loaded and attached set of programs.
type Probe struct {
	objs   terminationObjects
	links  []link.Link
	reader *ringbuf.Reader
	// outputErr says why CNI plugins' stdout cannot be captured, if so.
	outputErr error
	// cgroupErr says why cgroup removals are not reported, if so.
	cgroupErr error
	// monoToWall converts the kernel's CLOCK_MONOTONIC stamps to wall time.
	monoToWall time.Duration
}

// New loads the programs, attaches them to their raw tracepoints and opens
// the ring buffer. Its errors say what is missing (BTF, permission, a
// verifier rejection) so the caller can report it once and go on without.
func New(cfg Config) (*Probe, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := btf.LoadKernelSpec(); err != nil {
		return nil, fmt.Errorf("kernel BTF unavailable (need /sys/kernel/btf/vmlinux for CO-RE): %w", err)
	}
	// A no-op on kernels that account BPF memory to the cgroup (5.11+).
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("raise memlock limit for BPF maps (need CAP_SYS_RESOURCE on kernels before 5.11): %w", err)
	}
	spec, err := loadTermination()
	if err != nil {
		return nil, fmt.Errorf("load BPF object: %w", err)
	}
	signals := cfg.Signals
	if len(signals) == 0 {
		signals = DefaultSignals
	}
	var mask uint64
	for _, s := range signals {
		mask |= 1 << uint(s)
	}
	include := uint32(0)
	if cfg.IncludeHost {
		include = 1
	}
	for name, v := range map[string]any{
		"signal_mask": mask, "host_mntns": cfg.HostMntNS, "include_host": include,
		"rate_per_sec": cfg.RatePerSec, "burst": cfg.Burst, "sys_write_nr": uint64(unix.SYS_WRITE),
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
	}

	p := &Probe{}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("BPF verifier rejected the programs: %-40v", verr)
		}
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("load BPF programs (need CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN): %w", err)
		}
		return nil, fmt.Errorf("load BPF programs: %w", err)
	}
	for name, prog := range map[string]*ebpf.Program{
		"signal_generate":    p.objs.SignalGenerate,
		"signal_deliver":     p.objs.SignalDeliver,
		"sched_process_exit": p.objs.SchedProcessExit,
		"sched_process_exec": p.objs.SchedProcessExec,
	} {
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: name, Program: prog})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("attach raw tracepoint %s: %w", name, err)
		}
		p.links = append(p.links, l)
	}
	// A CNI plugin's stdout is read at the write(2) behind it. Without it
	// the probe still reports the plugin's runs and exit codes.
	if !cfg.CNIOutput {
		p.outputErr = errors.New("disabled by configuration")
	} else if l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: p.objs.CniWrite}); err != nil {
		p.outputErr = fmt.Errorf("attach raw tracepoint sys_enter: %w", err)
	} else {
		p.links = append(p.links, l)
	}
	// Without the cgroup_rmdir probe the caller polls for removed cgroups.
	if l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "cgroup_rmdir", Program: p.objs.CgroupRmdir}); err != nil {
		p.cgroupErr = fmt.Errorf("attach raw tracepoint cgroup_rmdir: %w", err)
	} else {
		p.links = append(p.links, l)
	}
	if p.reader, err = ringbuf.NewReader(p.objs.Events); err != nil {
		p.Close()
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	p.monoToWall = monotonicOffset()
	return p, nil
}

// CNIOutputErr says why CNI plugins' error messages cannot be read (the
// write probe did not attach), or nil.
func (p *Probe) CNIOutputErr() error { return p.outputErr }

// Close detaches and unloads everything; a blocked Run returns.
func (p *Probe) Close() error {
	var errs []error
	if p.reader != nil {
		errs = append(errs, p.reader.Close())
	}
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, p.objs.Close())
	return errors.Join(errs...)
}

// Run reads events until ctx ends or the probe is closed, handing each to
// handle. It returns the number of records it could not decode.
func (p *Probe) Run(ctx context.Context, handle func(Event)) (undecodable uint64, err error) {
	go func() {
		<-ctx.Done()
		p.reader.Close()
	}()
	var rec ringbuf.Record
	for {
		if err := p.reader.ReadInto(&rec); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return undecodable, nil
			}
			return undecodable, fmt.Errorf("read ring buffer: %w", err)
		}
		ev, ok := p.decode(rec.RawSample)
		if !ok {
			undecodable++
			continue
		}
		handle(ev)
	}
}

// KernelDrops returns the events the kernel side dropped, by reason, summed
// over CPUs.
func (p *Probe) KernelDrops() (map[string]uint64, error) {
	out := make(map[string]uint64, 2)
	for key, name := range []string{"rate_limited", "ringbuf_full"} {
		var perCPU []uint64
		if err := p.objs.Drops.Lookup(uint32(key), &perCPU); err != nil {
			return nil, fmt.Errorf("read drop counter %s: %w", name, err)
		}
		var sum uint64
		for _, n := range perCPU {
			sum += n
		}
		out[name] = sum
	}
	return out, nil
}

// decode views a ring-buffer record as its C struct without copying it
// field by field; the size checks guard against a mismatched object. Every
// record starts with the same two fields, so the type is read first.
func (p *Probe) decode(raw []byte) (Event, bool) {
	if len(raw) < 12 {
		return Event{}, false
	}
	switch EventType(*(*uint32)(unsafe.Pointer(&raw[8]))) {
	case EventCNIExec:
		return p.decodeCNIExec(raw)
	case EventCNIOutput, EventCNIExit:
		return p.decodeCNIOutput(raw)
	case EventCgroupRmdir:
		return p.decodeCgroupRmdir(raw)
	}
	if len(raw) < int(unsafe.Sizeof(terminationEvent{})) {
		return Event{}, false
	}
	r := (*terminationEvent)(unsafe.Pointer(&raw[0]))
	var repaired int
	ev := Event{
		Type:        EventType(r.Type),
		Time:        time.Unix(0, int64(r.TsNs)).Add(p.monoToWall),
		Signal:      syscall.Signal(r.Sig),
		Result:      SignalResult(r.Result),
		Group:       r.Flags != 0,
		Pid:         r.Pid,
		Tid:         r.Tid,
		MntNS:       r.Mntns,
		Comm:        cString(r.Comm[:], &repaired),
		SenderPid:   r.SenderPid,
		SenderTid:   r.SenderTid,
		SenderMntNS: r.SenderMntns,
		SenderComm:  cString(r.SenderComm[:], &repaired),
		Disposition: Disposition(r.Disposition),
		ParentMntNS: r.ParentMntns,
	}
	switch ev.Type {
	case EventExit:
		ev.Leader = r.Flags != 0
		ev.ExitStatus, ev.ExitSignal = splitExitCode(r.ExitCode)
		ev.Group = false
	case EventExec:
		n := min(int(r.ArgvLen), len(r.Argv))
		ev.Argv = splitArgv(int8sToBytes(r.Argv[:n]), &repaired)
		ev.Group = false
	case EventSignalGenerate, EventSignalDeliver:
	default:
		return Event{}, false
	}
	ev.Repaired = repaired
	return ev, true
}

func (p *Probe) decodeCNIExec(raw []byte) (Event, bool) {
	if len(raw) < int(unsafe.Sizeof(terminationCniExec{})) {
		return Event{}, false
	}
	r := (*terminationCniExec)(unsafe.Pointer(&raw[0]))
	argv := int8sToBytes(r.Argv[:min(int(r.ArgvLen), len(r.Argv))])
	env := int8sToBytes(r.Env[:min(int(r.EnvLen), len(r.Env))])
	truncated := r.Flags&cniFlagEnvTruncated != 0
	if truncated {
		// The cut fell inside an entry: drop what is left of it.
		if i := bytes.IndexByte(env, 0); i >= 0 {
			env = env[i+1:]
		} else {
			env = nil
		}
	}
	var repaired int
	ev := Event{
		Type:         EventCNIExec,
		Time:         time.Unix(0, int64(r.TsNs)).Add(p.monoToWall),
		Pid:          r.Pid,
		Leader:       true,
		Comm:         cString(r.Comm[:], &repaired),
		Argv:         splitArgv(argv, &repaired),
		Env:          splitArgv(env, &repaired),
		EnvTruncated: truncated,
	}
	ev.Repaired = repaired
	return ev, true
}

func (p *Probe) decodeCNIOutput(raw []byte) (Event, bool) {
	if len(raw) < int(unsafe.Sizeof(terminationCniOutput{})) {
		return Event{}, false
	}
	r := (*terminationCniOutput)(unsafe.Pointer(&raw[0]))
	var repaired int
	ev := Event{
		Type:   EventType(r.Type),
		Time:   time.Unix(0, int64(r.TsNs)).Add(p.monoToWall),
		Pid:    r.Pid,
		Leader: true,
		Comm:   cString(r.Comm[:], &repaired),
	}
	ev.Repaired = repaired
	if ev.Type == EventCNIExit {
		ev.ExitStatus, ev.ExitSignal = splitExitCode(r.ExitCode)
	} else {
		// The record's memory is reused by the next read: copy.
		ev.Output = bytes.Clone(int8sToBytes(r.Data[:min(int(r.Len), len(r.Data))]))
	}
	return ev, true
}

func (p *Probe) decodeCgroupRmdir(raw []byte) (Event, bool) {
	if len(raw) < int(unsafe.Sizeof(terminationCgroupRmdirEvent{})) {
		return Event{}, false
	}
	r := (*terminationCgroupRmdirEvent)(unsafe.Pointer(&raw[0]))
	var repaired int
	ev := Event{
		Type:                EventCgroupRmdir,
		Time:                time.Unix(0, int64(r.TsNs)).Add(p.monoToWall),
		CgroupPath:          text(int8sToBytes(r.Path[:min(int(r.PathLen), len(r.Path))]), &repaired),
		CgroupPathTruncated: r.Flags&cgroupFlagPathTruncated != 0,
		CgroupHierarchy:     r.Hierarchy,
		CgroupID:            r.Id,
	}
	ev.Repaired = repaired
	return ev, true
}

// Twin of the C side's CGROUP_FLAG_PATH_TRUNCATED.
const cgroupFlagPathTruncated = 1

// Twins of the C side's CNI_FLAG_ENV_TRUNCATED and CNI_OUT_LEN.
const (
	cniFlagEnvTruncated = 1
	cniOutputLen        = 2048
)

// splitExitCode splits a raw task exit code, (status << 8) | signal.
func splitExitCode(code uint32) (int32, syscall.Signal) {
	return int32(code>>8) & 0xff, syscall.Signal(code & 0x7f)
}

func int8sToBytes(s []int8) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s))
}

// text is where every string of a kernel record becomes a Go string. The
// bytes are whatever the workload chose (a comm, argv, an environment, a
// path), and the contract's strings are UTF-8, so invalid sequences are
// replaced here and counted in *repaired.
func text(b []byte, repaired *int) string {
	s, fixed := apiv1.ValidText(string(b))
	if fixed {
		*repaired++
	}
	return s
}

func cString(s []int8, repaired *int) string {
	b := int8sToBytes(s)
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return text(b, repaired)
}

// splitArgv splits the NUL-separated argument area of a process.
func splitArgv(b []byte, repaired *int) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = text(p, repaired)
	}
	return out
}

// monotonicOffset is wall time minus CLOCK_MONOTONIC, sampled once.
func monotonicOffset() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(time.Now().UnixNano() - ts.Nano())
}
