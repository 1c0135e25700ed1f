package signals

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// TestDecodeRepairsInvalidUTF8 checks that the names a workload gives its
// tasks come out of decoding as valid UTF-8, each invalid run replaced by
// U+FFFD and counted.
func TestDecodeRepairsInvalidUTF8(t *testing.T) {
	t.Run("a signal's target and sender comms are repaired", func(t *testing.T) {
		var r signalsEvent
		r.Type = uint32(Generate)
		copy(record.Bytes(r.Comm[:]), "\xffx")
		copy(record.Bytes(r.SenderComm[:]), "kill\xfe")
		ev, ok := decode(unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r)), probe.Clock{})
		if !ok {
			t.Fatal("record not decoded")
		}
		if got, want := []string{ev.Comm, ev.SenderComm}, []string{"\uFFFDx", "kill\uFFFD"}; !slices.Equal(got, want) {
			t.Errorf("decoded %q, want %q", got, want)
		}
		if ev.Repaired != 2 {
			t.Errorf("Repaired = %d, want 2", ev.Repaired)
		}
	})
}
