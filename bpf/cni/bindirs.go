package cni

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// AddBinDirs makes the kernel side follow the processes exec'd from the
// given CNI bin directories, and from every directory their symlinks point
// into (a kernel execs a link's target, so that is the directory it sees).
// It can be called again to pick up directories and links that appeared
// since; a directory that does not exist is skipped. It returns the
// directories now followed.
func (p *Probe) AddBinDirs(dirs []string) ([]string, error) {
	var added []string
	var errs []error
	seen := map[string]bool{}
	add := func(dir string) {
		if seen[dir] {
			return
		}
		seen[dir] = true
		key, err := dirKey(dir)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			return
		}
		if err := p.objs.CniDirs.Update(key, uint8(1), 0); err != nil {
			errs = append(errs, fmt.Errorf("add CNI bin dir %s: %w", dir, err))
			return
		}
		added = append(added, dir)
	}
	for _, dir := range dirs {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			continue // not there (yet)
		}
		add(real)
		entries, err := os.ReadDir(real)
		if err != nil {
			errs = append(errs, fmt.Errorf("list CNI bin dir %s: %w", dir, err))
			continue
		}
		for _, e := range entries {
			if e.Type()&os.ModeSymlink == 0 {
				continue
			}
			if target, err := filepath.EvalSymlinks(filepath.Join(real, e.Name())); err == nil {
				add(filepath.Dir(target))
			}
		}
	}
	return added, errors.Join(errs...)
}

// dirKey names dir the way the kernel side sees it: its inode, and its
// device in the kernel's dev_t encoding (major << 20 | minor), which is not
// the one stat(2) returns.
func dirKey(dir string) (cniCniDirKey, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return cniCniDirKey{}, fmt.Errorf("stat CNI bin dir %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return cniCniDirKey{}, fmt.Errorf("CNI bin dir %s is not a directory", dir)
	}
	dev := unix.Major(uint64(st.Dev))<<20 | unix.Minor(uint64(st.Dev))
	return cniCniDirKey{Ino: st.Ino, Dev: dev}, nil
}
