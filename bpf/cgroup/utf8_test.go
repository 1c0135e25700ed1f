package cgroup

import (
	"testing"
	"unsafe"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// TestDecodeRepairsInvalidUTF8 checks that a removed cgroup's path comes
// out of decoding as valid UTF-8, each invalid run replaced by U+FFFD and
// counted.
func TestDecodeRepairsInvalidUTF8(t *testing.T) {
	t.Run("a removed cgroup's path is repaired", func(t *testing.T) {
		var r cgroupEvent
		r.Type = rmdirType
		path := "/k8s.io/\xff\xfe"
		copy(record.Bytes(r.Path[:]), path)
		r.PathLen = uint32(len(path))
		ev, ok := decode(unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r)), probe.Clock{})
		if !ok {
			t.Fatal("record not decoded")
		}
		if ev.Path != "/k8s.io/\uFFFD" || ev.Repaired != 1 {
			t.Errorf("decoded %q repaired %d, want %q repaired 1", ev.Path, ev.Repaired, "/k8s.io/\uFFFD")
		}
	})
}
