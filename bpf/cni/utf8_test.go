package cni

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// TestDecodeRepairsInvalidUTF8 checks that a CNI plugin's name, argv and
// environment come out of decoding as valid UTF-8, each invalid run
// replaced by U+FFFD and counted.
func TestDecodeRepairsInvalidUTF8(t *testing.T) {
	t.Run("a CNI plugin's comm, argv and environment are repaired", func(t *testing.T) {
		var r cniExecEvent
		r.Type = uint32(Exec)
		copy(record.Bytes(r.Comm[:]), "bridge\xff")
		copy(record.Bytes(r.Argv[:]), "bridge\x00")
		r.ArgvLen = uint32(len("bridge\x00"))
		env := "CNI_COMMAND=DEL\x00CNI_NETNS=/run/netns/\xfe\x00"
		copy(record.Bytes(r.Env[:]), env)
		r.EnvLen = uint32(len(env))
		ev, ok := decode(unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r)), probe.Clock{})
		if !ok {
			t.Fatal("record not decoded")
		}
		got := append(append([]string{ev.Comm}, ev.Argv...), ev.Env...)
		if want := []string{"bridge\uFFFD", "bridge", "CNI_COMMAND=DEL", "CNI_NETNS=/run/netns/\uFFFD"}; !slices.Equal(got, want) {
			t.Errorf("decoded %q, want %q", got, want)
		}
		if ev.Repaired != 2 {
			t.Errorf("Repaired = %d, want 2", ev.Repaired)
		}
	})
}
