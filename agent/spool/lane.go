package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// readChunk is how much of a segment one read takes in, at most, unless a
// single frame is larger.
const readChunk = 1 << 20

// lane is one append-only queue of segments. The spool has two, so that
// when it is full the raw events can go before the summaries.
type lane struct {
	name       string
	dir        string
	segBytes   int64
	maxPayload int
	segs       []*segment // oldest first; the last one takes appends
	w          *os.File   // append handle of the last segment
	ack        position   // everything before it is acknowledged
	read       position   // where the next read starts
	// cursorSaved is when ack was last written to the cursor file.
	cursorSaved time.Time
}

// cursorEvery is how often an acknowledgement writes the cursor file, when
// it removes no segment. Each write is a file created, synced and renamed:
// once per collector ack, it was the agent's largest cost on a node
// deleting a hundred pods. A cursor up to this old only makes a restarted
// agent resend what the collector already holds, which it stores once.
const cursorEvery = time.Second

// openLane loads a lane's segments, cutting off damaged tails, and reports
// each damage through onDamage. last is the newest valid payload found.
func openLane(dir, name string, segBytes int64, maxPayload int, onDamage func(path string, d damage)) (l *lane, last []byte, err error) {
	l = &lane{name: name, dir: dir, segBytes: segBytes, maxPayload: maxPayload}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list spool directory %s: %w", dir, err)
	}
	var ids []uint64
	for _, e := range entries {
		if id, ok := parseSegmentName(name, e.Name()); ok && e.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var maxID uint64
	for _, id := range ids {
		maxID = max(maxID, id)
		path := filepath.Join(dir, segmentName(name, id))
		seg, p, dmg, err := loadSegment(path, id, maxPayload)
		if err != nil {
			return nil, nil, err
		}
		if dmg != nil {
			onDamage(path, *dmg)
		}
		if seg == nil {
			if err := os.Remove(path); err != nil {
				return nil, nil, fmt.Errorf("remove unreadable spool segment %s: %w", path, err)
			}
			continue
		}
		if p != nil {
			last = p
		}
		l.segs = append(l.segs, seg)
	}
	if len(l.segs) == 0 {
		seg, f, err := createSegment(dir, name, maxID+1)
		if err != nil {
			return nil, nil, err
		}
		l.segs, l.w = []*segment{seg}, f
	} else {
		active := l.segs[len(l.segs)-1]
		l.w, err = os.OpenFile(active.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("open spool segment %s: %w", active.path, err)
		}
	}
	l.ack = l.clamp(loadCursor(dir, name))
	l.read = l.ack
	return l, last, nil
}

// clamp moves p to the nearest position that exists: the start of the
// oldest segment when p is older, the end of its segment when p is past it.
func (l *lane) clamp(p position) position {
	first := l.segs[0]
	if p.seg < first.id {
		return position{seg: first.id, off: int64(len(segmentMagic))}
	}
	for _, s := range l.segs {
		if s.id == p.seg {
			return position{seg: s.id, off: min(max(p.off, int64(len(segmentMagic))), s.end())}
		}
	}
	last := l.segs[len(l.segs)-1]
	return position{seg: last.id, off: last.end()}
}

func (l *lane) active() *segment { return l.segs[len(l.segs)-1] }

func (l *lane) bytes() int64 {
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// append writes one frame, starting a new segment first when the current
// one is full. A failed write is undone, so the segment never ends in a torn
// frame while the agent runs.
func (l *lane) append(frame []byte) error {
	if a := l.active(); a.size > int64(len(segmentMagic)) && a.size+int64(len(frame)) > l.segBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	a := l.active()
	if a.size == 0 {
		// The segment was created without its header (see createSegment).
		frame = append([]byte(segmentMagic), frame...)
	}
	if _, err := l.w.Write(frame); err != nil {
		if terr := l.w.Truncate(a.size); terr != nil {
			err = errors.Join(err, terr)
		}
		return fmt.Errorf("append to spool segment %s: %w", a.path, err)
	}
	a.size += int64(len(frame))
	return nil
}

// rotate seals the active segment and starts the next one.
func (l *lane) rotate() error {
	a := l.active()
	if err := l.w.Sync(); err != nil {
		return fmt.Errorf("sync spool segment %s: %w", a.path, err)
	}
	l.w.Close()
	seg, f, err := createSegment(l.dir, l.name, a.id+1)
	if err != nil {
		// Keep appending to the old segment rather than lose events.
		if l.w, err = os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
			return fmt.Errorf("reopen spool segment %s: %w", a.path, err)
		}
		return err
	}
	l.segs, l.w = append(l.segs, seg), f
	return nil
}

func (l *lane) segment(id uint64) *segment {
	for _, s := range l.segs {
		if s.id == id {
			return s
		}
	}
	return nil
}

// readBatch is what one read of a lane returns.
type readBatch struct {
	records []*apiv1.Record
	end     position
	damage  []damage
}

// next reads up to maxRecords records (and about maxBytes of them) from the
// read position on, and advances it. A damaged frame found now (the disk
// changed under the spool) ends its segment: it is reported, and reading
// goes on with the next segment.
func (l *lane) next(maxRecords int, maxBytes int64) (readBatch, error) {
	var rb readBatch
	for len(rb.records) == 0 {
		seg := l.segment(l.read.seg)
		if seg == nil {
			// The segment was dropped while the spool was full.
			l.read = l.clamp(l.read)
			seg = l.segment(l.read.seg)
		}
		if l.read.off >= seg.size {
			if seg == l.active() {
				break
			}
			l.read = position{seg: seg.id + 1, off: int64(len(segmentMagic))}
			l.read = l.clamp(l.read)
			continue
		}
		if err := l.readSegment(seg, maxRecords, maxBytes, &rb); err != nil {
			return rb, err
		}
	}
	rb.end = l.read
	return rb, nil
}

func (l *lane) readSegment(seg *segment, maxRecords int, maxBytes int64, rb *readBatch) error {
	// A chunk always holds at least one whole frame of the largest size.
	to := min(seg.size, l.read.off+max(readChunk, frameSize(l.maxPayload)))
	b, err := seg.readRange(l.read.off, to)
	if err != nil {
		return err
	}
	wholeRest := l.read.off+int64(len(b)) >= seg.size
	var taken int64
	off := 0
	for off < len(b) && len(rb.records) < maxRecords && taken < maxBytes {
		payload, n, ferr := decodeFrame(b[off:], l.maxPayload)
		if errors.Is(ferr, errShort) && !wholeRest && off > 0 {
			break // the frame goes on past this chunk: the next read takes it
		}
		if ferr != nil {
			l.read.off += int64(off)
			l.cut(seg, rb, ferr)
			return nil
		}
		rec := new(apiv1.Record)
		if err := proto.Unmarshal(payload, rec); err != nil {
			// The frame is intact, so only this record is lost.
			rb.damage = append(rb.damage, damage{reason: "undecodable", bytes: int64(n)})
		} else {
			rb.records = append(rb.records, rec)
		}
		off += n
		taken += int64(n)
	}
	l.read.off += int64(off)
	return nil
}

// cut ends seg at the read position after damage was found there.
func (l *lane) cut(seg *segment, rb *readBatch, why error) {
	off := l.read.off
	reason := "corrupt"
	if errors.Is(why, errShort) {
		reason = "truncated"
	}
	rb.damage = append(rb.damage, damage{reason: reason, bytes: seg.size - off})
	seg.size = off
	if seg == l.active() {
		// New frames must follow the last valid one.
		l.w.Truncate(off)
	}
}

// acknowledge records that everything before p was delivered, and deletes
// the sealed segments that holds nothing else. The active segment stays, so
// that the newest record survives a restart.
func (l *lane) acknowledge(p position, now time.Time) error {
	if l.ack.before(p) {
		l.ack = p
	}
	removed := false
	for len(l.segs) > 1 {
		s := l.segs[0]
		if !(s.id < l.ack.seg || (s.id == l.ack.seg && l.ack.off >= s.size)) {
			break
		}
		if err := os.Remove(s.path); err != nil {
			return fmt.Errorf("remove delivered spool segment %s: %w", s.path, err)
		}
		l.segs = l.segs[1:]
		removed = true
	}
	l.ack = l.clamp(l.ack)
	if l.read.before(l.ack) {
		l.read = l.ack
	}
	if !removed && now.Sub(l.cursorSaved) < cursorEvery && !now.Before(l.cursorSaved) {
		return nil
	}
	l.cursorSaved = now
	return saveCursor(l.dir, l.name, l.ack)
}

// dropOldest deletes the lane's oldest segment to make room, sealing the
// active one first if it is the only one. It returns how many events were
// lost (records not yet acknowledged), how many losses lost drop reports had
// announced, and false when the lane held nothing.
func (l *lane) dropOldest() (lost, carried uint64, ok bool, err error) {
	if len(l.segs) == 1 {
		if l.active().size <= int64(len(segmentMagic)) {
			return 0, 0, false, nil
		}
		if err := l.rotate(); err != nil {
			return 0, 0, false, err
		}
	}
	s := l.segs[0]
	from := int64(len(segmentMagic))
	if l.ack.seg == s.id {
		from = l.ack.off
	}
	if from < s.size {
		b, err := s.readRange(from, s.size)
		if err != nil {
			return 0, 0, false, err
		}
		scanFrames(b, l.maxPayload, func(p []byte, _ int) {
			if n, ok := dropCount(p); ok {
				carried += n
			} else {
				lost++
			}
		})
	}
	if err := os.Remove(s.path); err != nil {
		return 0, 0, false, fmt.Errorf("remove spool segment %s to make room: %w", s.path, err)
	}
	l.segs = l.segs[1:]
	l.ack, l.read = l.clamp(l.ack), l.clamp(l.read)
	return lost, carried, true, saveCursor(l.dir, l.name, l.ack)
}

// dropCount tells whether a record is a drop report, and the loss it
// reports, so that dropping the report carries its count forward.
func dropCount(payload []byte) (uint64, bool) {
	rec, e := new(apiv1.Record), new(apiv1.Event)
	if proto.Unmarshal(payload, rec) != nil || proto.Unmarshal(rec.Event, e) != nil || e.Kind != apiv1.KindEventsDropped {
		return 0, false
	}
	return e.GetDrop().GetCount(), true
}

// rewind makes the next read start again at the first unacknowledged
// record, after a stream broke with records in flight.
func (l *lane) rewind() { l.read = l.ack }

func (l *lane) close() error {
	err := l.w.Sync()
	if cerr := l.w.Close(); err == nil {
		err = cerr
	}
	if serr := saveCursor(l.dir, l.name, l.ack); err == nil {
		err = serr
	}
	return err
}
