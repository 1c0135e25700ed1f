// Package cni loads graceline's CNI probes, which follow the runs of CNI
// plugins (their environment, the first bytes they write to stdout and
// their exit status), and decodes their events.
//
// The typical path is New, AddBinDirs, then probe.Shared.Run with Events
// until the context ends, then Close.
package cni

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// Config selects what the CNI probes read.
type Config struct {
	// Output reads what CNI plugins write to stdout (their error
	// messages). It puts a probe on the entry of every system call, which
	// costs each one a little even while no plugin runs.
	Output bool
}

// Twins of the C side's CNI_FLAG_ENV_TRUNCATED and CNI_OUT_LEN.
const (
	flagEnvTruncated = 1
	outputLen        = 2048
)

// Probe is the loaded and attached CNI programs.
type Probe struct {
	objs   cniObjects
	links  probe.Links
	shared *probe.Shared
	// outputErr says why CNI plugins' stdout cannot be captured, if so.
	outputErr error
}

// New loads the CNI programs into shared and attaches them to their raw
// tracepoints. Without the write probe (Config.Output off, or its
// attachment refused) the plugins' runs and exit codes are still reported;
// OutputErr says why their stdout is not.
func New(shared *probe.Shared, cfg Config) (*Probe, error) {
	spec, err := loadCni()
	if err != nil {
		return nil, fmt.Errorf("load cni object: %w", err)
	}
	p := &Probe{shared: shared}
	if err := shared.Load(spec, map[string]any{"sys_write_nr": uint64(unix.SYS_WRITE)}, &p.objs); err != nil {
		return nil, err
	}
	if p.links, err = probe.AttachAll(
		probe.Program{Tracepoint: "sched_process_exec", Prog: p.objs.CniExec},
		probe.Program{Tracepoint: "sched_process_exit", Prog: p.objs.CniExit},
	); err != nil {
		p.objs.Close()
		return nil, err
	}
	// A CNI plugin's stdout is read at the write(2) behind it.
	if !cfg.Output {
		p.outputErr = errors.New("disabled by configuration")
	} else if l, err := probe.Attach("sys_enter", p.objs.CniWrite); err != nil {
		p.outputErr = err
	} else {
		p.links = append(p.links, l)
	}
	return p, nil
}

// OutputErr says why CNI plugins' error messages cannot be read (the write
// probe is off or did not attach), or nil.
func (p *Probe) OutputErr() error { return p.outputErr }

// Events routes the group's events, decoded, to handle.
func (p *Probe) Events(handle func(Event)) probe.Route {
	return probe.NewRoute(p.shared.Clock(), []uint32{uint32(Exec), uint32(Output), uint32(Exit)}, decode, handle)
}

// Close detaches and unloads the programs.
func (p *Probe) Close() error {
	return errors.Join(p.links.Close(), p.objs.Close())
}

// decode reads a record of the C side's struct exec_event or output_event;
// both start with ts_ns and type.
func decode(raw []byte, clock probe.Clock) (Event, bool) {
	if len(raw) < 12 {
		return Event{}, false
	}
	switch Type(binary.NativeEndian.Uint32(raw[8:])) {
	case Exec:
		return decodeExec(raw, clock)
	case Output, Exit:
		return decodeOutput(raw, clock)
	}
	return Event{}, false
}

func decodeExec(raw []byte, clock probe.Clock) (Event, bool) {
	r, ok := record.View[cniExecEvent](raw)
	if !ok {
		return Event{}, false
	}
	argv := record.Bytes(r.Argv[:min(int(r.ArgvLen), len(r.Argv))])
	env := record.Bytes(r.Env[:min(int(r.EnvLen), len(r.Env))])
	truncated := r.Flags&flagEnvTruncated != 0
	if truncated {
		// The cut fell inside an entry: drop what is left of it.
		if i := bytes.IndexByte(env, 0); i >= 0 {
			env = env[i+1:]
		} else {
			env = nil
		}
	}
	var repaired int
	e := Event{
		Type:         Exec,
		Time:         clock.Wall(r.TsNs),
		Pid:          r.Pid,
		Comm:         record.CString(r.Comm[:], &repaired),
		Argv:         record.SplitArgv(argv, &repaired),
		Env:          record.SplitArgv(env, &repaired),
		EnvTruncated: truncated,
	}
	e.Repaired = repaired
	return e, true
}

func decodeOutput(raw []byte, clock probe.Clock) (Event, bool) {
	r, ok := record.View[cniOutputEvent](raw)
	if !ok {
		return Event{}, false
	}
	var repaired int
	e := Event{
		Type: Type(r.Type),
		Time: clock.Wall(r.TsNs),
		Pid:  r.Pid,
		Comm: record.CString(r.Comm[:], &repaired),
	}
	e.Repaired = repaired
	if e.Type == Exit {
		e.ExitStatus, e.ExitSignal = record.ExitCode(r.ExitCode)
	} else {
		// The record's memory is reused by the next read: copy.
		e.Output = bytes.Clone(record.Bytes(r.Data[:min(int(r.Len), len(r.Data))]))
	}
	return e, true
}
