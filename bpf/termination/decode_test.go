package termination

import (
	"slices"
	"testing"
	"unsafe"
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
			var r terminationCniExec
			r.Type = uint32(EventCNIExec)
			r.Pid = 42
			copy(int8sToBytes(r.Env[:]), tc.env)
			r.EnvLen = uint32(len(tc.env))
			if tc.truncated {
				r.Flags = cniFlagEnvTruncated
			}
			raw := unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
			ev, ok := (&Probe{}).decode(raw)
			if !ok || ev.Type != EventCNIExec || ev.Pid != 42 {
				t.Fatalf("decode = %+v, %v", ev, ok)
			}
			if !slices.Equal(ev.Env, tc.want) || ev.EnvTruncated != tc.truncated {
				t.Errorf("env %q truncated %v, want %q %v", ev.Env, ev.EnvTruncated, tc.want, tc.truncated)
			}
		})
	}
	t.Run("a short record is refused", func(t *testing.T) {
		var r terminationCniExec
		r.Type = uint32(EventCNIExec)
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&r)), 64)
		if _, ok := (&Probe{}).decode(raw); ok {
			t.Error("a truncated record decoded")
		}
	})
}

// TestDecodeCgroupRmdir checks a removed cgroup's record: its path is cut
// at the length the kernel side gave, and a short record is refused.
func TestDecodeCgroupRmdir(t *testing.T) {
	var r terminationCgroupRmdirEvent
	r.Type = uint32(EventCgroupRmdir)
	r.Hierarchy = 4
	r.Id = 1234
	r.Flags = cgroupFlagPathTruncated
	copy(int8sToBytes(r.Path[:]), "/k8s.io/abc\x00stale")
	r.PathLen = uint32(len("/k8s.io/abc"))
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
	ev, ok := (&Probe{}).decode(raw)
	if !ok || ev.Type != EventCgroupRmdir {
		t.Fatalf("decode = %+v, %v", ev, ok)
	}
	if ev.CgroupPath != "/k8s.io/abc" || !ev.CgroupPathTruncated || ev.CgroupHierarchy != 4 || ev.CgroupID != 1234 {
		t.Errorf("decoded %+v", ev)
	}
	if _, ok := (&Probe{}).decode(raw[:32]); ok {
		t.Error("a short record decoded")
	}
}
