package termination

import (
	"slices"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// TestDecodeRepairsInvalidUTF8 checks that the bytes a workload puts in its
// name, argv, environment or cgroup path come out of decoding as valid
// UTF-8, each invalid run replaced by U+FFFD and counted, so that no event
// is lost to the encoder later.
func TestDecodeRepairsInvalidUTF8(t *testing.T) {
	cases := []struct {
		name string
		// record builds the raw ring-buffer record.
		record func() []byte
		// got picks the decoded strings to check.
		got          func(Event) []string
		want         []string
		wantRepaired int
	}{
		{
			name: "an exec's comm and argv with bytes 0xff 0xfe are repaired",
			record: func() []byte {
				var r terminationEvent
				r.Type = uint32(EventExec)
				copy(int8sToBytes(r.Comm[:]), "sh\xff\xfe")
				argv := "sh\x00-c\x00echo \xc3\x28\x00"
				copy(int8sToBytes(r.Argv[:]), argv)
				r.ArgvLen = uint32(len(argv))
				return unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
			},
			got:          func(e Event) []string { return append([]string{e.Comm}, e.Argv...) },
			want:         []string{"sh\uFFFD", "sh", "-c", "echo \uFFFD("},
			wantRepaired: 2,
		},
		{
			name: "a signal's target and sender comms are repaired",
			record: func() []byte {
				var r terminationEvent
				r.Type = uint32(EventSignalGenerate)
				copy(int8sToBytes(r.Comm[:]), "\xffx")
				copy(int8sToBytes(r.SenderComm[:]), "kill\xfe")
				return unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
			},
			got:          func(e Event) []string { return []string{e.Comm, e.SenderComm} },
			want:         []string{"\uFFFDx", "kill\uFFFD"},
			wantRepaired: 2,
		},
		{
			name: "a CNI plugin's comm, argv and environment are repaired",
			record: func() []byte {
				var r terminationCniExec
				r.Type = uint32(EventCNIExec)
				copy(int8sToBytes(r.Comm[:]), "bridge\xff")
				copy(int8sToBytes(r.Argv[:]), "bridge\x00")
				r.ArgvLen = uint32(len("bridge\x00"))
				env := "CNI_COMMAND=DEL\x00CNI_NETNS=/run/netns/\xfe\x00"
				copy(int8sToBytes(r.Env[:]), env)
				r.EnvLen = uint32(len(env))
				return unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
			},
			got:          func(e Event) []string { return append(append([]string{e.Comm}, e.Argv...), e.Env...) },
			want:         []string{"bridge\uFFFD", "bridge", "CNI_COMMAND=DEL", "CNI_NETNS=/run/netns/\uFFFD"},
			wantRepaired: 2,
		},
		{
			name: "a removed cgroup's path is repaired",
			record: func() []byte {
				var r terminationCgroupRmdirEvent
				r.Type = uint32(EventCgroupRmdir)
				path := "/k8s.io/\xff\xfe"
				copy(int8sToBytes(r.Path[:]), path)
				r.PathLen = uint32(len(path))
				return unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
			},
			got:          func(e Event) []string { return []string{e.CgroupPath} },
			want:         []string{"/k8s.io/\uFFFD"},
			wantRepaired: 1,
		},
		{
			name: "valid UTF-8 is left as it is and not counted",
			record: func() []byte {
				var r terminationEvent
				r.Type = uint32(EventExit)
				copy(int8sToBytes(r.Comm[:]), "café")
				return unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))
			},
			got:  func(e Event) []string { return []string{e.Comm} },
			want: []string{"café"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, ok := (&Probe{}).decode(tc.record())
			if !ok {
				t.Fatal("record not decoded")
			}
			got := tc.got(ev)
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
