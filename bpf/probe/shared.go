// Package probe holds what graceline's probe groups (bpf/signals,
// bpf/process, bpf/cni, bpf/cgroup, bpf/oom) share: the maps they all write to, the
// loading of a group's object with CO-RE, and the one reader of their
// events.
//
// The groups are separate objects, but they share one ring buffer, one set
// of drop counters and one rate limit (bpf/headers/graceline.h declares
// them). One ring buffer keeps the events of all groups in the order the
// kernel reserved them, so that a container's SIGTERM still comes before
// its exit; one rate limit makes a container spend one budget, whichever
// probe sees it. Each map is created here once, from the first group's
// object that declares it, and handed to every later one in place of its
// own.
//
// The typical path is Open, then each group's New, then Run with each
// group's Events until the context ends, then the groups' Close and
// Shared.Close.
package probe

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// sharedMaps are the maps created once and shared by name: the ring
// buffer, the drop counters, the rate-limit buckets and the recording
// policy's maps of graceline.h, and the CNI bin directories that the
// process and CNI groups both look up.
var sharedMaps = []string{"events", "drops", "buckets", "windows", "inits", "history", "cni_dirs"}

// Shared is the part of the probes all groups use.
type Shared struct {
	cfg   Config
	clock Clock

	mu     sync.Mutex
	maps   map[string]*ebpf.Map
	reader *ringbuf.Reader
	// ready is the ring buffer's descriptor on Go's poller, while a Run
	// waits on it.
	ready *os.File
	// closed says closeReader ran: a Run that fails after it was asked
	// to stop.
	closed atomic.Bool
}

// Open checks that the kernel can run the probes and prepares what the
// groups share. Its errors say what is missing (BTF, permission) so the
// caller can report it once and go on without.
func Open(cfg Config) (*Shared, error) {
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
	return &Shared{cfg: cfg, clock: newClock(), maps: map[string]*ebpf.Map{}}, nil
}

// Load sets the group's constants and the shared ones in spec, and loads
// it into objs (a bpf2go objects struct) with the shared maps in place of
// the object's own. A group calls it from its New.
func (s *Shared) Load(spec *ebpf.CollectionSpec, vars map[string]any, objs any) error {
	for name, v := range s.cfg.variables() {
		if vs, ok := spec.Variables[name]; ok {
			if err := vs.Set(v); err != nil {
				return fmt.Errorf("set %s: %w", name, err)
			}
		}
	}
	for name, v := range vars {
		vs, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("set %s: no such variable", name)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	replace, err := s.replacements(spec)
	if err != nil {
		return err
	}
	if err := spec.LoadAndAssign(objs, &ebpf.CollectionOptions{MapReplacements: replace}); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return fmt.Errorf("BPF verifier rejected the programs: %-40v", verr)
		}
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("load BPF programs (need CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN): %w", err)
		}
		return fmt.Errorf("load BPF programs: %w", err)
	}
	return nil
}

// replacements returns the shared maps spec declares, creating those that
// no group created before. The first ring buffer gets its reader here, so
// that Close can stop a Run at any time.
func (s *Shared) replacements(spec *ebpf.CollectionSpec) (map[string]*ebpf.Map, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*ebpf.Map{}
	for _, name := range sharedMaps {
		ms, ok := spec.Maps[name]
		if !ok {
			continue
		}
		if name == "events" {
			// Every group's spec is sized as configured: a replacement
			// map must match the spec it replaces.
			ms.MaxEntries = s.cfg.ringBytes()
		}
		m := s.maps[name]
		if m == nil {
			var err error
			if m, err = ebpf.NewMap(ms); err != nil {
				if errors.Is(err, unix.EPERM) {
					return nil, fmt.Errorf("create map %s (need CAP_BPF, or CAP_SYS_ADMIN): %w", name, err)
				}
				return nil, fmt.Errorf("create map %s: %w", name, err)
			}
			s.maps[name] = m
		}
		if name == "events" && s.reader == nil {
			r, err := ringbuf.NewReader(m)
			if err != nil {
				return nil, fmt.Errorf("open ring buffer: %w", err)
			}
			s.reader = r
		}
		out[name] = m
	}
	return out, nil
}

// Clock converts the kernel's stamps to wall time.
func (s *Shared) Clock() Clock { return s.clock }

// Close closes the reader, so that a blocked Run returns, and the shared
// maps; the groups keep their own references until they are closed.
func (s *Shared) Close() error {
	errs := []error{s.closeReader()}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.maps {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

// DropOutsideWindow is the reason KernelDrops gives for the events the
// recording policy leaves out in the kernel: dropped by design, unlike the
// others, which are losses.
const DropOutsideWindow = "outside_window"

// DropExitingTarget is the reason KernelDrops gives for the signals sent
// to a process that already left its namespaces as it exits: they change
// nothing and name no container. Dropped by design too.
const DropExitingTarget = "exiting_target"

// KernelDrops returns the events the kernel side dropped, by reason, summed
// over CPUs.
func (s *Shared) KernelDrops() (map[string]uint64, error) {
	s.mu.Lock()
	drops := s.maps["drops"]
	s.mu.Unlock()
	out := make(map[string]uint64, 4)
	if drops == nil {
		return out, nil
	}
	// The keys are graceline.h's enum drop_reason.
	for key, name := range []string{"rate_limited", "ringbuf_full", DropOutsideWindow, DropExitingTarget} {
		var perCPU []uint64
		if err := drops.Lookup(uint32(key), &perCPU); err != nil {
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

// Clock converts the kernel's CLOCK_MONOTONIC stamps to wall time. The zero
// Clock leaves them as they are.
type Clock struct {
	// monoToWall is wall time minus CLOCK_MONOTONIC, sampled once.
	monoToWall time.Duration
}

func newClock() Clock {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return Clock{monoToWall: time.Duration(time.Now().UnixNano() - ts.Nano())}
}

// Wall returns the wall time of a kernel stamp.
func (c Clock) Wall(ns uint64) time.Time {
	return time.Unix(0, int64(ns)).Add(c.monoToWall)
}
