package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// An epoch is the middle part of every delivery key a run of the agent
// writes, so two runs must never share one: the second run's keys would
// restart at sequence 1, and the collector would discard its events as
// duplicates of the first run's. Epochs are the run's start time in
// nanoseconds, raised above every epoch the spool directory has used, so
// that a clock stepped back does not reuse one either.
//
// Picking an epoch writes nothing, so that an agent whose spool filesystem
// is full still starts. Two facts keep epochs unique all the same:
//
//   - No record carries an epoch before the epoch file records it durably
//     (Spool.Append saves it first, and fails while it cannot). A run that
//     never managed to save its epoch wrote no record, so nothing of it can
//     be confused with a later run that picks the same number.
//   - A later run starts above both the epoch file and the epoch of the
//     newest record in the segments, so it is above every epoch that was
//     saved, even when the epoch file itself was lost. A lane always keeps
//     its newest record, even acknowledged, for this and for Last.
func epochPath(dir string) string { return filepath.Join(dir, "epoch") }

// pickEpoch returns the epoch for a run starting at now. newest is the
// epoch of the newest record found in the spool, or zero.
func pickEpoch(dir string, now time.Time, newest uint64) (uint64, error) {
	epoch := max(uint64(now.UnixNano()), newest+1)
	b, err := os.ReadFile(epochPath(dir))
	switch {
	case err == nil:
		if last, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); perr == nil && last >= epoch {
			epoch = last + 1
		}
	case !errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("read spool epoch: %w", err)
	}
	return epoch, nil
}

// saveEpoch records epoch durably, as the floor of the next run's epoch.
func saveEpoch(dir string, epoch uint64) error {
	if err := writeFileAtomic(epochPath(dir), []byte(strconv.FormatUint(epoch, 10)+"\n"), true); err != nil {
		return fmt.Errorf("record spool epoch: %w", err)
	}
	return nil
}
