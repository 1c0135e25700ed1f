package probe

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// The recording policy's part in the kernel (graceline.h's recorded): the
// events of a container's other processes pass only while its termination
// window is open, or as a sparse history. User space names the init
// processes and opens and closes the windows; these are its calls. A
// missing key is no error: the map is a cache of user space's state, and
// the LRU may have evicted the entry.

// SetInit names tgid a container's (or a sandbox's) init process, whose
// events always pass, or forgets it.
func (s *Shared) SetInit(tgid uint32, init bool) error {
	return s.set("inits", tgid, init)
}

// SetWindow opens or closes the termination window of the container in
// mount namespace mntns.
func (s *Shared) SetWindow(mntns uint32, open bool) error {
	return s.set("windows", mntns, open)
}

// ForgetNamespace drops what the kernel holds about mount namespace mntns
// (its window and its history's clock), once its container is gone, so
// that a new container given the same inode starts afresh.
func (s *Shared) ForgetNamespace(mntns uint32) error {
	return errors.Join(s.set("windows", mntns, false), s.set("history", mntns, false))
}

func (s *Shared) set(name string, key uint32, on bool) error {
	s.mu.Lock()
	m := s.maps[name]
	s.mu.Unlock()
	if m == nil {
		return nil
	}
	var err error
	switch {
	case on:
		err = m.Put(key, uint8(1))
	default:
		if err = m.Delete(key); errors.Is(err, ebpf.ErrKeyNotExist) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("update %s[%d]: %w", name, key, err)
	}
	return nil
}
