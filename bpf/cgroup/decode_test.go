package cgroup

import (
	"testing"
	"unsafe"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// TestDecodeCgroupRmdir checks a removed cgroup's record: its path is cut
// at the length the kernel side gave, and a short record is refused.
func TestDecodeCgroupRmdir(t *testing.T) {
	var r cgroupEvent
	r.Type = rmdirType
	r.Hierarchy = 4
	r.Id = 1234
	r.Flags = flagPathTruncated
	copy(record.Bytes(r.Path[:]), "/k8s.io/abc\x00stale")
	r.PathLen = uint32(len("/k8s.io/abc"))
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
	ev, ok := decode(raw, probe.Clock{})
	if !ok {
		t.Fatalf("decode = %+v, %v", ev, ok)
	}
	if ev.Path != "/k8s.io/abc" || !ev.PathTruncated || ev.Hierarchy != 4 || ev.ID != 1234 {
		t.Errorf("decoded %+v", ev)
	}
	if _, ok := decode(raw[:32], probe.Clock{}); ok {
		t.Error("a short record decoded")
	}
}
