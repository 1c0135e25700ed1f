package release

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/graceline/graceline/agent/diagnose"
)

// tick is what one poll learns of the node, shared by every resource that
// poll checks. During a mass deletion a hundred pods wait at once; reading
// the mountinfo once per pod, five times a second, cost the agent more
// than anything else it did (BenchmarkPollWaitingOwners). The tick reads
// it at most once, and lists a directory once instead of stat'ing each of
// the files waited for in it.
type tick struct {
	mountinfo string
	// mounts are the mount points, sorted, read on first use; mountsErr
	// says the read failed.
	mounts     []string
	mountsRead bool
	mountsErr  error
	// listed holds the names in each directory that more than one due
	// file lives in, read on first use; nil for one that could not be
	// listed.
	listed map[string]map[string]bool
}

// newTick returns the view for one poll that checks the files in files.
// A directory holding several of them is listed; a lone file is stat'ed.
func newTick(mountinfo string, files []string) *tick {
	t := &tick{mountinfo: mountinfo, listed: map[string]map[string]bool{}}
	perDir := map[string]int{}
	for _, f := range files {
		perDir[filepath.Dir(f)]++
	}
	for dir, n := range perDir {
		if n > 1 {
			t.listed[dir] = nil
		}
	}
	return t
}

// exists tells whether path exists, from its directory's listing when the
// tick lists it.
func (t *tick) exists(path string) bool {
	dir := filepath.Dir(path)
	names, list := t.listed[dir]
	if !list {
		return exists(path)
	}
	if names == nil {
		entries, err := os.ReadDir(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// The directory went, and its files with it.
			names = map[string]bool{}
		case err != nil:
			// Unreadable: each file is stat'ed instead.
			delete(t.listed, dir)
			return exists(path)
		default:
			names = make(map[string]bool, len(entries))
			for _, e := range entries {
				names[e.Name()] = true
			}
		}
		t.listed[dir] = names
	}
	return names[filepath.Base(path)]
}

// mountedBelow tells whether anything is mounted at or below dir. A
// mountinfo that cannot be read tells nothing: the mounts are not taken
// for released, and the give-up period bounds the wait.
func (t *tick) mountedBelow(dir string) (mounted, known bool) {
	if !t.mountsRead {
		t.mountsRead = true
		t.mounts, t.mountsErr = diagnose.MountPoints(t.mountinfo)
		sort.Strings(t.mounts)
	}
	if t.mountsErr != nil {
		return false, false
	}
	// Sorted, the paths with dir as a prefix follow dir's place; some of
	// them ("dir-x") are beside it, not below it.
	i, _ := slices.BinarySearch(t.mounts, dir)
	for ; i < len(t.mounts) && strings.HasPrefix(t.mounts[i], dir); i++ {
		if diagnose.Below(t.mounts[i], dir) {
			return true, true
		}
	}
	return false, true
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
