package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// segmentMagic opens every segment file, so that a file that is not a
// segment (or one whose start was overwritten) is recognised as such.
const segmentMagic = "GLSPOOL1"

// segment is one file of a lane. Frames are only ever appended to a lane's
// newest segment; older ones are sealed, then read and finally deleted.
type segment struct {
	id   uint64
	path string
	// size is where the last valid frame ends; the file is never longer.
	size int64
}

func segmentName(lane string, id uint64) string {
	return fmt.Sprintf("%s-%016x.seg", lane, id)
}

// parseSegmentName returns the id of a segment file of lane.
func parseSegmentName(lane, name string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, lane+"-")
	if !ok {
		return 0, false
	}
	hex, ok := strings.CutSuffix(rest, ".seg")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(hex, 16, 64)
	return id, err == nil
}

// createSegment creates a segment and returns it open for appending. When
// its header cannot be written (the filesystem is full), the file is kept
// empty, with size 0, and the first append writes the header along with its
// frame: creating an empty file needs no free block, so a spool on a full
// filesystem still opens, and starts writing once space returns.
func createSegment(dir, lane string, id uint64) (*segment, *os.File, error) {
	path := filepath.Join(dir, segmentName(lane, id))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("create spool segment %s: %w", path, err)
	}
	seg := &segment{id: id, path: path}
	if _, err := f.WriteString(segmentMagic); err != nil {
		if terr := f.Truncate(0); terr != nil {
			f.Close()
			os.Remove(path)
			return nil, nil, fmt.Errorf("write spool segment header %s: %w", path, errors.Join(err, terr))
		}
		return seg, f, nil
	}
	seg.size = int64(len(segmentMagic))
	return seg, f, nil
}

// damage describes what loadSegment had to cut off a segment.
type damage struct {
	reason string // "truncated", "corrupt" or "header"
	bytes  int64
}

// loadSegment validates a segment from disk. A torn or corrupt tail is cut
// off the file, so that the segment ends with its last valid frame and new
// frames can follow it; what was cut is returned as damage. last is the
// segment's last valid payload, if any. A file whose header is wrong is
// reported with a nil segment: none of it can be trusted.
func loadSegment(path string, id uint64, maxPayload int) (seg *segment, last []byte, dmg *damage, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read spool segment %s: %w", path, err)
	}
	if len(b) == 0 {
		// Created while the filesystem was full; its header comes with
		// its first frame.
		return &segment{id: id, path: path}, nil, nil, nil
	}
	if len(b) < len(segmentMagic) || string(b[:len(segmentMagic)]) != segmentMagic {
		return nil, nil, &damage{reason: "header", bytes: int64(len(b))}, nil
	}
	body := b[len(segmentMagic):]
	end, scanErr := scanFrames(body, maxPayload, func(p []byte, _ int) { last = p })
	size := int64(len(segmentMagic) + end)
	if scanErr != nil {
		dmg = &damage{reason: "corrupt", bytes: int64(len(b)) - size}
		if errors.Is(scanErr, errShort) {
			dmg.reason = "truncated"
		}
		if err := os.Truncate(path, size); err != nil {
			return nil, nil, nil, fmt.Errorf("cut damaged tail of spool segment %s: %w", path, err)
		}
	}
	if last != nil {
		last = append([]byte(nil), last...)
	}
	return &segment{id: id, path: path, size: size}, last, dmg, nil
}

// end is where the segment's frames end: its size, or for a segment still
// waiting for its header, where the first frame will start.
func (s *segment) end() int64 { return max(s.size, int64(len(segmentMagic))) }

// readRange reads the bytes [from, to) of the segment.
func (s *segment) readRange(from, to int64) ([]byte, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("open spool segment %s: %w", s.path, err)
	}
	defer f.Close()
	b := make([]byte, to-from)
	n, err := f.ReadAt(b, from)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read spool segment %s: %w", s.path, err)
	}
	// A file shorter than expected (cut by someone else) reads short; the
	// caller's frame scan then reports the damage.
	return b[:n], nil
}
