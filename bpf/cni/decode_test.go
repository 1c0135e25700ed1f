package cni

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// TestDecodeCNIExec checks how a CNI plugin's environment is split, whole
// or cut at its start.
func TestDecodeCNIExec(t *testing.T) {
	cases := []struct {
		name      string
		env       string
		truncated bool
		want      []string
	}{
		{"a whole environment gives every entry", "A=1\x00CNI_COMMAND=DEL\x00", false, []string{"A=1", "CNI_COMMAND=DEL"}},
		{"a cut environment loses its partial first entry", "TH=/bin\x00CNI_COMMAND=DEL\x00", true, []string{"CNI_COMMAND=DEL"}},
		{"a cut environment without a separator gives nothing", "ATH=/bin", true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r cniExecEvent
			r.Type = uint32(Exec)
			r.Pid = 42
			copy(record.Bytes(r.Env[:]), tc.env)
			r.EnvLen = uint32(len(tc.env))
			if tc.truncated {
				r.Flags = flagEnvTruncated
			}
			raw := unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
			ev, ok := decode(raw, probe.Clock{})
			if !ok || ev.Type != Exec || ev.Pid != 42 {
				t.Fatalf("decode = %+v, %v", ev, ok)
			}
			if !slices.Equal(ev.Env, tc.want) || ev.EnvTruncated != tc.truncated {
				t.Errorf("env %q truncated %v, want %q %v", ev.Env, ev.EnvTruncated, tc.want, tc.truncated)
			}
		})
	}
	t.Run("a short record is refused", func(t *testing.T) {
		var r cniExecEvent
		r.Type = uint32(Exec)
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&r)), 64)
		if _, ok := decode(raw, probe.Clock{}); ok {
			t.Error("a truncated record decoded")
		}
	})
}
