package cgroup

import "time"

// rmdirType is the type number graceline.h gives a removed cgroup's record.
const rmdirType = 8

// Event is the removal of a cgroup directory whose id was registered with
// WatchCgroup.
type Event struct {
	Time time.Time
	// Path is the directory's path from its hierarchy's root, cut at 255
	// bytes when PathTruncated.
	Path          string
	PathTruncated bool
	// Hierarchy is the hierarchy's id; 0 is cgroup v2's.
	Hierarchy int32
	// ID is the cgroup's id, which is the directory's inode number.
	ID uint64
	// Repaired counts the strings above that were not valid UTF-8 in the
	// kernel's record and had their invalid bytes replaced by U+FFFD.
	Repaired int
}
