package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Memory is what a memory cgroup tells; a nil field was not told: no
// limit, or a kernel that does not keep the number.
type Memory struct {
	Limit, Usage, Peak *uint64
}

// v1Unlimited is the smallest memory.limit_in_bytes that v1 shows for "no
// limit": the page-rounded maximum of a signed 64-bit counter.
const v1Unlimited = 1 << 62

// ReadMemory reads the memory limit, usage and peak of the first of dirs
// that is a memory cgroup: memory.max, memory.current and memory.peak on
// v2, memory.limit_in_bytes, memory.usage_in_bytes and
// memory.max_usage_in_bytes on v1. Each file is read and closed. ok is
// false when no dir is a memory cgroup (any more).
func ReadMemory(dirs []string) (m Memory, ok bool) {
	for _, d := range dirs {
		if limit, err := readNumber(filepath.Join(d, "memory.max")); err == nil {
			if !limit.max {
				m.Limit = &limit.n
			}
			m.Usage = readOptional(filepath.Join(d, "memory.current"))
			m.Peak = readOptional(filepath.Join(d, "memory.peak"))
			return m, true
		}
		if limit, err := readNumber(filepath.Join(d, "memory.limit_in_bytes")); err == nil {
			if limit.n < v1Unlimited {
				m.Limit = &limit.n
			}
			m.Usage = readOptional(filepath.Join(d, "memory.usage_in_bytes"))
			m.Peak = readOptional(filepath.Join(d, "memory.max_usage_in_bytes"))
			return m, true
		}
	}
	return Memory{}, false
}

// number is a cgroup file's value; max is v2's word for no limit.
type number struct {
	n   uint64
	max bool
}

func readNumber(path string) (number, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return number{}, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return number{max: true}, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return number{}, &os.PathError{Op: "parse", Path: path, Err: err}
	}
	return number{n: n}, nil
}

func readOptional(path string) *uint64 {
	v, err := readNumber(path)
	if err != nil || v.max {
		return nil
	}
	return &v.n
}
