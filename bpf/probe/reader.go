package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// maxType bounds the event type numbers of graceline.h's enum event_type.
const maxType = 16

// Route hands the records of some event types to the group that sent them.
// A group's Events method builds it, with a handler for its typed event.
type Route struct {
	// Types are the event type numbers the group's programs write.
	Types []uint32
	// Decode decodes one record and hands it on; it reports false for a
	// record it cannot decode. The record's memory is reused by the next
	// read, so Decode must copy what it keeps.
	Decode func(raw []byte) bool
}

// Run reads the shared ring buffer until ctx ends or s is closed, handing
// each record, in order, to the route of its type. It returns the number
// of records it could not decode, those of a type no route takes included.
func (s *Shared) Run(ctx context.Context, routes ...Route) (undecodable uint64, err error) {
	s.mu.Lock()
	reader := s.reader
	s.mu.Unlock()
	if reader == nil {
		return 0, errors.New("read ring buffer: no probe group loaded")
	}
	var table [maxType]func([]byte) bool
	for _, r := range routes {
		for _, t := range r.Types {
			if t >= maxType {
				return 0, fmt.Errorf("route event type %d: above %d", t, maxType-1)
			}
			table[t] = r.Decode
		}
	}
	handle := func(raw []byte) {
		// Every record starts with __u64 ts_ns and __u32 type.
		if len(raw) < 12 {
			undecodable++
			return
		}
		t := binary.NativeEndian.Uint32(raw[8:])
		if t >= maxType || table[t] == nil || !table[t](raw) {
			undecodable++
		}
	}
	// Without the poller, the reader's own blocking wait still works; it
	// only costs more.
	ready := s.pollable()
	go func() {
		<-ctx.Done()
		s.closeReader()
	}()
	if ready != nil {
		err = s.readParked(reader, ready, handle)
	} else {
		err = readBlocking(reader, handle)
	}
	return undecodable, err
}

// readBlocking reads with the ring buffer reader's own wait: a thread
// blocked in epoll_wait.
func readBlocking(reader *ringbuf.Reader, handle func([]byte)) error {
	var rec ringbuf.Record
	for {
		if err := reader.ReadInto(&rec); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read ring buffer: %w", err)
		}
		handle(rec.RawSample)
	}
}

// readParked waits for records on Go's network poller and drains the ring
// buffer without waiting. The reader's own wait blocks a thread in
// epoll_wait, and the runtime's monitor thread, which sleeps only while no
// thread runs Go code or sits in a system call, kept waking every 20 µs to
// 10 ms while the node was quiet. Parked on the poller, the reader holds no
// thread while it waits.
func (s *Shared) readParked(reader *ringbuf.Reader, ready *os.File, handle func([]byte)) error {
	raw, err := ready.SyscallConn()
	if err != nil {
		return fmt.Errorf("read ring buffer: %w", err)
	}
	// A deadline in the past makes ReadInto return os.ErrDeadlineExceeded
	// once the ring is drained, instead of waiting.
	reader.SetDeadline(time.Unix(1, 0))
	var rec ringbuf.Record
	var readErr error
	// The poller calls drain, and waits for the ring buffer to become
	// readable again each time it reports the ring drained. A record
	// committed after the drain wakes the poller: the kernel wakes the
	// ring's waiters when the reader has caught up.
	drain := func(uintptr) bool {
		for {
			err := reader.ReadInto(&rec)
			switch {
			case err == nil:
				handle(rec.RawSample)
			case errors.Is(err, os.ErrDeadlineExceeded):
				return false
			default:
				readErr = err
				return true
			}
		}
	}
	err = raw.Read(drain)
	if err == nil {
		err = readErr
	}
	if s.closed.Load() {
		// The poller's error for a closed file is its own.
		return nil
	}
	return fmt.Errorf("read ring buffer: %w", err)
}

// pollable returns a descriptor of the ring buffer that Go's network poller
// waits on, or nil if the poller does not take it. The ring buffer's
// descriptor is readable while records wait in it. closeReader closes it.
func (s *Shared) pollable() *os.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	events := s.maps["events"]
	if events == nil || s.reader == nil {
		return nil
	}
	fd, err := unix.FcntlInt(uintptr(events.FD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil
	}
	f := os.NewFile(uintptr(fd), "ring buffer")
	// Only a file the poller took has deadlines.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil
	}
	s.ready = f
	return f
}

// closeReader closes the reader and the descriptor its Run waits on, so
// that Run returns; the caller must not hold s.mu.
func (s *Shared) closeReader() error {
	s.closed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.ready != nil {
		errs = append(errs, s.ready.Close())
		s.ready = nil
	}
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	return errors.Join(errs...)
}
