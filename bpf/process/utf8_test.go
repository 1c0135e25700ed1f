package process

import (
	"slices"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// TestDecodeRepairsInvalidUTF8 checks that the bytes a workload puts in its
// name or argv come out of decoding as valid UTF-8, each invalid run
// replaced by U+FFFD and counted, so that no event is lost to the encoder
// later.
func TestDecodeRepairsInvalidUTF8(t *testing.T) {
	cases := []struct {
		name         string
		typ          Type
		comm, argv   string
		want         []string
		wantRepaired int
	}{
		{
			name: "an exec's comm and argv with bytes 0xff 0xfe are repaired",
			typ:  Exec, comm: "sh\xff\xfe", argv: "sh\x00-c\x00echo \xc3\x28\x00",
			want:         []string{"sh\uFFFD", "sh", "-c", "echo \uFFFD("},
			wantRepaired: 2,
		},
		{
			name: "valid UTF-8 is left as it is and not counted",
			typ:  Exit, comm: "café",
			want: []string{"café"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r processEvent
			r.Type = uint32(tc.typ)
			copy(record.Bytes(r.Comm[:]), tc.comm)
			copy(record.Bytes(r.Argv[:]), tc.argv)
			r.ArgvLen = uint32(len(tc.argv))
			ev, ok := decode(unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r)), probe.Clock{})
			if !ok {
				t.Fatal("record not decoded")
			}
			got := append([]string{ev.Comm}, ev.Argv...)
			for _, s := range got {
				if !utf8.ValidString(s) {
					t.Errorf("decoded string %q is not valid UTF-8", s)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("decoded %q, want %q", got, tc.want)
			}
			if ev.Repaired != tc.wantRepaired {
				t.Errorf("Repaired = %d, want %d", ev.Repaired, tc.wantRepaired)
			}
		})
	}
}
