package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// position is a place in a lane: a segment and a byte offset in it.
type position struct {
	seg uint64
	off int64
}

func (p position) before(q position) bool {
	return p.seg < q.seg || (p.seg == q.seg && p.off < q.off)
}

// writeFileAtomic replaces path with b through a rename, so that a crash
// leaves either the old or the new content, never a mix.
func writeFileAtomic(path string, b []byte, sync bool) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// The acknowledgement cursor of a lane is kept in "<lane>.ack". It is not
// synced: losing it only means that acknowledged records are sent again,
// which the collector ignores.
func cursorPath(dir, lane string) string { return filepath.Join(dir, lane+".ack") }

// errCursor marks a cursor that could not be saved. It is not a reason to
// fail an acknowledgement or a drop: the records are gone from the lane
// either way, and an old cursor only makes a restarted agent resend.
var errCursor = errors.New("save spool cursor")

func saveCursor(dir, lane string, p position) error {
	line := fmt.Sprintf("%d %d\n", p.seg, p.off)
	if err := writeFileAtomic(cursorPath(dir, lane), []byte(line), false); err != nil {
		return fmt.Errorf("%w of %s: %w", errCursor, lane, err)
	}
	return nil
}

// loadCursor returns the saved cursor, or the zero position when there is
// none or it cannot be parsed: resending everything is always safe.
func loadCursor(dir, lane string) position {
	b, err := os.ReadFile(cursorPath(dir, lane))
	if err != nil {
		return position{}
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return position{}
	}
	seg, err1 := strconv.ParseUint(f[0], 10, 64)
	off, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || off < 0 {
		return position{}
	}
	return position{seg: seg, off: off}
}
