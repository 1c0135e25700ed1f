package probe

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// What every probe group does the same way: attach its programs, close
// them, and route its records to its typed handler.

// Program is a group's program and the raw tracepoint it attaches to.
type Program struct {
	Tracepoint string
	Prog       *ebpf.Program
}

// Links are the attachments of one group's programs.
type Links []link.Link

// AttachAll attaches each program to its raw tracepoint, in order. When one
// fails, those already attached are detached again.
func AttachAll(progs ...Program) (Links, error) {
	var ls Links
	for _, p := range progs {
		l, err := Attach(p.Tracepoint, p.Prog)
		if err != nil {
			return nil, errors.Join(err, ls.Close())
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// Attach attaches prog to the raw tracepoint name.
func Attach(name string, prog *ebpf.Program) (link.Link, error) {
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: name, Program: prog})
	if err != nil {
		return nil, fmt.Errorf("attach raw tracepoint %s: %w", name, err)
	}
	return l, nil
}

// Close detaches every program.
func (ls Links) Close() error {
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// NewRoute is the route of a group whose records of the given types decode
// into its typed event E, handed to handle.
func NewRoute[E any](clock Clock, types []uint32, decode func([]byte, Clock) (E, bool), handle func(E)) Route {
	return Route{
		Types: types,
		Decode: func(raw []byte) bool {
			e, ok := decode(raw, clock)
			if ok {
				handle(e)
			}
			return ok
		},
	}
}
