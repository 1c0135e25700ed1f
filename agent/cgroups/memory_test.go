package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestReadMemory checks the memory numbers read from v1 and v2 cgroup
// directories laid out in a temporary directory.
func TestReadMemory(t *testing.T) {
	u := func(n uint64) *uint64 { return &n }
	cases := []struct {
		name   string
		files  map[string]string // in the second of two dirs; the first is empty
		want   Memory
		wantOK bool
	}{
		{"A v2 cgroup tells its limit, usage and peak.",
			map[string]string{"memory.max": "16777216\n", "memory.current": "4096\n", "memory.peak": "16777216\n"},
			Memory{Limit: u(16 << 20), Usage: u(4096), Peak: u(16 << 20)}, true},
		{"A v2 cgroup without a limit says max, which is no limit.",
			map[string]string{"memory.max": "max\n", "memory.current": "4096\n"},
			Memory{Usage: u(4096)}, true},
		{"A v1 cgroup tells its limit, usage and the most it used.",
			map[string]string{"memory.limit_in_bytes": "33554432\n", "memory.usage_in_bytes": "8192\n", "memory.max_usage_in_bytes": "33554432\n"},
			Memory{Limit: u(32 << 20), Usage: u(8192), Peak: u(32 << 20)}, true},
		{"A v1 cgroup without a limit shows the huge number that means none.",
			map[string]string{"memory.limit_in_bytes": "9223372036854771712\n", "memory.usage_in_bytes": "8192\n"},
			Memory{Usage: u(8192)}, true},
		{"A directory that is not a memory cgroup tells nothing.",
			map[string]string{"pids.max": "max\n"}, Memory{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			empty, dir := filepath.Join(root, "cpu"), filepath.Join(root, "memory")
			for _, d := range []string{empty, dir} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := ReadMemory([]string{empty, dir})
			if ok != tc.wantOK || !equal(got.Limit, tc.want.Limit) || !equal(got.Usage, tc.want.Usage) || !equal(got.Peak, tc.want.Peak) {
				t.Errorf("ReadMemory = %s, %v; want %s, %v", show(got), ok, show(tc.want), tc.wantOK)
			}
		})
	}
}

func equal(a, b *uint64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(m Memory) string {
	f := func(p *uint64) any {
		if p == nil {
			return "-"
		}
		return *p
	}
	return fmt.Sprintf("{limit %v usage %v peak %v}", f(m.Limit), f(m.Usage), f(m.Peak))
}
