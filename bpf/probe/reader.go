package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf/ringbuf"
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
	go func() {
		<-ctx.Done()
		reader.Close()
	}()
	var rec ringbuf.Record
	for {
		if err := reader.ReadInto(&rec); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return undecodable, nil
			}
			return undecodable, fmt.Errorf("read ring buffer: %w", err)
		}
		// Every record starts with __u64 ts_ns and __u32 type.
		raw := rec.RawSample
		if len(raw) < 12 {
			undecodable++
			continue
		}
		t := binary.NativeEndian.Uint32(raw[8:])
		if t >= maxType || table[t] == nil || !table[t](raw) {
			undecodable++
		}
	}
}
