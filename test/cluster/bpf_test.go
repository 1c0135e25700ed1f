package cluster_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// bpfHeld are the IDs of the BPF objects a process holds descriptors of.
type bpfHeld struct {
	progs, links, maps []uint32
}

// bpfObjects reads them from the process's /proc/<pid>/fdinfo, where the
// kernel names each BPF descriptor's object: prog_id, link_id (a link's
// entry names its program too) and map_id. bpftool's "pids" column would
// need a BPF iterator, a tracing program these kernels refuse.
func bpfObjects(pid int) (bpfHeld, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/fdinfo/*", pid))
	if err != nil || len(files) == 0 {
		return bpfHeld{}, fmt.Errorf("read the descriptors of pid %d: %v", pid, err)
	}
	var h bpfHeld
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok || seen[line] {
				continue
			}
			id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				continue
			}
			seen[line] = true
			switch k {
			case "prog_id":
				h.progs = append(h.progs, uint32(id))
			case "link_id":
				h.links = append(h.links, uint32(id))
			case "map_id":
				h.maps = append(h.maps, uint32(id))
			}
		}
	}
	return h, nil
}

// stillThere returns the objects of h that the kernel still has.
func (h bpfHeld) stillThere() bpfHeld {
	var left bpfHeld
	for _, id := range h.progs {
		if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); !errors.Is(err, os.ErrNotExist) {
			left.progs = append(left.progs, id)
			if p != nil {
				p.Close()
			}
		}
	}
	for _, id := range h.links {
		if l, err := link.NewFromID(link.ID(id)); !errors.Is(err, os.ErrNotExist) {
			left.links = append(left.links, id)
			if l != nil {
				l.Close()
			}
		}
	}
	for _, id := range h.maps {
		if m, err := ebpf.NewMapFromID(ebpf.MapID(id)); !errors.Is(err, os.ErrNotExist) {
			left.maps = append(left.maps, id)
			if m != nil {
				m.Close()
			}
		}
	}
	return left
}

func (h bpfHeld) empty() bool { return len(h.progs)+len(h.links)+len(h.maps) == 0 }
