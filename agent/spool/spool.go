// Package spool is the agent's durable queue of events on their way to the
// collector. Events are appended to checksummed, append-only segment files
// and leave the spool only when the collector has acknowledged them, so an
// agent that crashes sends again, after it restarts, whatever was not
// acknowledged. Each record carries its delivery key (node, epoch, sequence
// number), which it keeps across resends.
//
// The spool is bounded. When it is full, the oldest raw events are dropped
// first; termination summaries, stuck reports and drop reports live in a
// separate lane that is dropped only when nothing else is left. Every drop is
// counted and itself reported as an events_dropped event.
package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Defaults for Options.
const (
	DefaultMaxBytes       = 256 << 20
	DefaultSegmentBytes   = 8 << 20
	DefaultMaxRecordBytes = 1 << 20
)

// dropReserve is room kept for the events_dropped record written after a
// drop; such a record is far smaller.
const dropReserve = 512

var (
	// ErrClosed is returned by Read after Close.
	ErrClosed = errors.New("spool closed")
	// ErrTooLarge is returned by Append for an event that could never fit.
	ErrTooLarge = errors.New("event too large for the spool")
)

// Options tune a spool. Zero values mean the defaults.
type Options struct {
	// Node is stamped into every record's delivery key.
	Node string
	// MaxBytes bounds the spool's files on disk.
	MaxBytes int64
	// SegmentBytes is the size at which a segment is sealed and a new one
	// started; it is also how much a full spool drops at a time. It is
	// capped at an eighth of MaxBytes.
	SegmentBytes int64
	// MaxRecordBytes bounds one encoded event.
	MaxRecordBytes int
	// Now is the clock; tests set it.
	Now func() time.Time
}

func (o *Options) setDefaults() error {
	if o.Node == "" {
		return errors.New("spool needs a node name")
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	o.SegmentBytes = min(o.SegmentBytes, o.MaxBytes/8)
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	o.MaxRecordBytes = min(o.MaxRecordBytes, int(o.MaxBytes/4))
	if o.SegmentBytes < 4096 || o.MaxRecordBytes < 1024 {
		return fmt.Errorf("spool of %d bytes is too small", o.MaxBytes)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Lanes, in the order a reader drains them.
const (
	lanePriority = iota
	laneRaw
)

var laneNames = [...]string{lanePriority: "priority", laneRaw: "raw"}

// laneFor keeps summaries, stuck reports and drop reports apart from the
// raw events, so that a full spool keeps them longest; api/v1's kind table
// says which kinds those are.
func laneFor(kind string) int {
	if apiv1.KindLane(kind) == apiv1.LanePriority {
		return lanePriority
	}
	return laneRaw
}

// Spool is a durable, bounded queue of events. It is safe for concurrent
// use: the agent appends while the sender reads and acknowledges.
type Spool struct {
	dir   string
	opts  Options
	epoch uint64
	m     *metrics
	log   *slog.Logger
	lock  *os.File

	mu    sync.Mutex
	seq   uint64
	lanes [2]*lane
	last  *apiv1.Record
	// epochSaved is false until the epoch file records this run's epoch;
	// no record may be written before (see epoch.go).
	epochSaved bool
	// owed counts, by drop reason, events lost but not yet reported by an
	// events_dropped record in the spool.
	owed    map[string]uint64
	waiting bool
	wake    chan struct{}
	closed  bool
}

// Open opens or creates the spool in dir. Records left by an earlier run are
// kept, with their delivery keys, and will be read again; a damaged tail is
// cut off, logged and counted. The new run gets a new epoch. Only one
// process may have a spool open. Metrics go to reg, when it is not nil.
func Open(dir string, opts Options, reg prometheus.Registerer, log *slog.Logger) (*Spool, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Spool{dir: dir, opts: opts, m: newMetrics(reg), log: log, lock: lock, owed: map[string]uint64{}, wake: make(chan struct{})}
	if err := s.load(); err != nil {
		lock.Close()
		return nil, err
	}
	s.m.bytes.Set(float64(s.bytes()))
	s.m.limit.Set(float64(s.opts.MaxBytes))
	return s, nil
}

func (s *Spool) load() error {
	onDamage := func(path string, d damage) {
		s.m.damaged.WithLabelValues(d.reason).Inc()
		s.m.damagedBytes.Add(float64(d.bytes))
		s.log.Warn("damaged spool segment; kept the records before the damage and skipped the rest",
			"segment", path, "damage", d.reason, "skipped_bytes", d.bytes)
	}
	for i, name := range laneNames {
		l, last, err := openLane(s.dir, name, s.opts.SegmentBytes, s.opts.MaxRecordBytes+dropReserve, onDamage)
		if err != nil {
			for _, o := range s.lanes[:i] {
				o.close()
			}
			return err
		}
		s.lanes[i] = l
		s.noteLast(last)
	}
	epoch, err := pickEpoch(s.dir, s.opts.Now(), s.last.GetKey().GetEpoch())
	if err != nil {
		return err
	}
	s.epoch = epoch
	// A full filesystem must not keep the agent from starting: the epoch
	// is saved again before the first record is written.
	if err := saveEpoch(s.dir, epoch); err != nil {
		s.log.Warn("spool epoch not saved yet; events are counted as lost until it is", "err", err)
	} else {
		s.epochSaved = true
	}
	return nil
}

// noteLast remembers payload if it is the newest record seen while loading.
func (s *Spool) noteLast(payload []byte) {
	if payload == nil {
		return
	}
	rec := new(apiv1.Record)
	if proto.Unmarshal(payload, rec) != nil {
		return
	}
	if s.last == nil || keyBefore(s.last.GetKey(), rec.GetKey()) {
		s.last = rec
	}
}

func keyBefore(a, b *apiv1.DeliveryKey) bool {
	return a.GetEpoch() < b.GetEpoch() || (a.GetEpoch() == b.GetEpoch() && a.GetSeq() < b.GetSeq())
}

func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spool lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock spool %s (is another agent using it?): %w", dir, err)
	}
	return f, nil
}

// Epoch is this run's epoch, the middle part of every new delivery key.
func (s *Spool) Epoch() uint64 { return s.epoch }

func (s *Spool) bytes() int64 {
	return s.lanes[lanePriority].bytes() + s.lanes[laneRaw].bytes()
}

// Append adds e to the spool under the next delivery key. It returns once
// the record is written to the segment file (so it survives the agent being
// killed); Sync makes it survive the machine failing too. When the spool is
// full, older events are dropped to make room, and an events_dropped event
// says so. An event that cannot be written (the filesystem is full) is
// counted, and reported by an events_dropped event written before the next
// event that can be.
func (s *Spool) Append(e *apiv1.Event) error {
	body, err := s.encode(e)
	if err != nil {
		s.m.dropped.WithLabelValues(dropWrite).Inc()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	seq := s.seq
	defer func() {
		if s.seq != seq {
			s.wakeReader()
		}
	}()
	if err := s.prepare(); err != nil {
		s.lose(apiv1.DropReasonSpoolWriteFailed)
		return err
	}
	rec, err := s.put(e.GetKind(), body)
	switch {
	case errors.Is(err, ErrTooLarge):
		// The disk is fine: report the loss at once. Should that fail,
		// the report stays owed.
		s.owe(apiv1.DropReasonTooLarge, 1)
		s.prepare()
		return err
	case err != nil:
		s.lose(apiv1.DropReasonSpoolWriteFailed)
		return err
	}
	s.last = rec
	return nil
}

// encode encodes e. An event that fails to encode because a string is not
// valid UTF-8 (the agent repairs workload strings where they enter it, so
// one slipped through) is encoded repaired rather than lost; e itself is
// left alone, as other outputs share it.
func (s *Spool) encode(e *apiv1.Event) ([]byte, error) {
	body, err := proto.Marshal(e)
	if err == nil {
		return body, nil
	}
	c := proto.Clone(e).(*apiv1.Event)
	n := apiv1.RepairUTF8(c)
	if n == 0 {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	s.m.repaired.Add(float64(n))
	if body, err = proto.Marshal(c); err != nil {
		return nil, fmt.Errorf("encode repaired event: %w", err)
	}
	return body, nil
}

// wakeReader wakes a Read waiting for records.
func (s *Spool) wakeReader() {
	s.m.bytes.Set(float64(s.bytes()))
	if s.waiting {
		close(s.wake)
		s.wake, s.waiting = make(chan struct{}), false
	}
}

// put writes an encoded event of kind under the next delivery key, making
// room first when the spool is full. The key is chosen only once the room is
// made: making room writes an events_dropped record, which takes the next
// key itself, and a key given to two records would let the collector keep
// one and discard the other as a duplicate.
func (s *Spool) put(kind string, body []byte) (*apiv1.Record, error) {
	// The collector refuses larger events; spooling one would only move
	// the loss to where the agent cannot report it.
	if len(body) > apiv1.MaxEventBytes {
		return nil, fmt.Errorf("%w: %s event of %d bytes, the collector's limit is %d", ErrTooLarge, kind, len(body), apiv1.MaxEventBytes)
	}
	for {
		rec := &apiv1.Record{Key: &apiv1.DeliveryKey{Node: s.opts.Node, Epoch: s.epoch, Seq: s.seq + 1}, Event: body}
		payload, err := proto.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("encode record: %w", err)
		}
		if len(payload) > s.opts.MaxRecordBytes {
			return nil, fmt.Errorf("%w: %s event of %d bytes, limit %d", ErrTooLarge, kind, len(payload), s.opts.MaxRecordBytes)
		}
		frame := appendFrame(nil, payload)
		// An append may start a new segment, whose header takes room too.
		need := int64(len(frame) + len(segmentMagic))
		if s.bytes()+need <= s.opts.MaxBytes {
			if err := s.lanes[laneFor(kind)].append(frame); err != nil {
				return nil, err
			}
			s.seq++
			s.m.appended.Inc()
			return rec, nil
		}
		// The room made includes a reserve for the drop report, so the
		// next pass fits; a report larger than the reserve only makes
		// this loop drop (and report) once more.
		if err := s.makeRoom(need + dropReserve + int64(len(segmentMagic))); err != nil {
			return nil, err
		}
	}
}

// Mark is where a batch read from the spool ends; Ack takes it back.
type Mark struct {
	lane int
	end  position
	n    int
}

// Batch is a group of records read together.
type Batch struct {
	Records []*apiv1.Record
	Mark    Mark
}

// Read waits until unread records exist, then returns up to maxRecords of
// them (and roughly at most maxBytes), priority lane first. Records stay in
// the spool until acknowledged.
func (s *Spool) Read(ctx context.Context, maxRecords int, maxBytes int64) (Batch, error) {
	if maxRecords < 1 || maxBytes < 1 {
		return Batch{}, errors.New("read needs room for at least one record")
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return Batch{}, ErrClosed
		}
		for i, l := range s.lanes {
			rb, err := l.next(maxRecords, maxBytes)
			s.noteDamage(l, rb.damage)
			if err != nil {
				s.mu.Unlock()
				return Batch{}, err
			}
			if len(rb.records) > 0 {
				s.mu.Unlock()
				return Batch{Records: rb.records, Mark: Mark{lane: i, end: rb.end, n: len(rb.records)}}, nil
			}
		}
		s.waiting = true
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Batch{}, fmt.Errorf("read spool: %w", ctx.Err())
		case <-wake:
		}
	}
}

func (s *Spool) noteDamage(l *lane, ds []damage) {
	for _, d := range ds {
		s.m.damaged.WithLabelValues(d.reason).Inc()
		s.m.damagedBytes.Add(float64(d.bytes))
		s.log.Warn("damaged spool record skipped", "lane", l.name, "damage", d.reason, "skipped_bytes", d.bytes)
	}
}

// Ack records that the collector stored everything up to m. The records
// leave the spool; segments that hold nothing else are deleted.
func (s *Spool) Ack(m Mark) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	err := s.lanes[m.lane].acknowledge(m.end, s.opts.Now())
	s.m.acked.Add(float64(m.n))
	s.m.bytes.Set(float64(s.bytes()))
	return s.cursorErr(err)
}

// cursorErr counts an error saving a cursor and absorbs it (see errCursor);
// other errors pass through.
func (s *Spool) cursorErr(err error) error {
	if err == nil || !errors.Is(err, errCursor) {
		return err
	}
	s.m.cursorErrors.Inc()
	return nil
}

// Rewind makes the next Read start again at the oldest unacknowledged
// record. The sender calls it when a stream broke with records in flight.
func (s *Spool) Rewind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lanes {
		l.rewind()
	}
}

// Last returns the newest record appended, from this run or an earlier one,
// even when it was already acknowledged: a producer can resume after a crash
// without repeating itself. ok is false for an empty spool.
func (s *Spool) Last() (rec *apiv1.Record, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.last != nil
}

// Sync flushes appended records to stable storage. The flush runs outside
// the spool's lock, so that appends (and the agent's sources behind them)
// never wait for the disk.
func (s *Spool) Sync() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	files := make([]*os.File, 0, len(s.lanes))
	for _, l := range s.lanes {
		files = append(files, l.w)
	}
	s.mu.Unlock()
	for _, f := range files {
		// A segment sealed meanwhile was synced when it was sealed.
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("sync spool segment %s: %w", f.Name(), err)
		}
	}
	return nil
}

// Close syncs and closes the spool; a blocked Read returns ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.wake)
	var errs []error
	for _, l := range s.lanes {
		errs = append(errs, s.cursorErr(l.close()))
	}
	errs = append(errs, s.lock.Close())
	return errors.Join(errs...)
}
