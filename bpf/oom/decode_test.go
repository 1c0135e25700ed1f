package oom

import (
	"testing"
	"unsafe"

	"github.com/cilium/ebpf/btf"

	"github.com/graceline/graceline/bpf/internal/record"
	"github.com/graceline/graceline/bpf/probe"
)

// TestDecodeOOMVictim checks an OOM victim's record: the victim and the
// task whose allocation ran the killer come out apart, and a short record
// or another group's record is refused.
func TestDecodeOOMVictim(t *testing.T) {
	var r oomEvent
	r.Type = victimType
	r.Pid, r.Tid, r.Mntns = 100, 101, 4026532000
	r.TriggerPid, r.TriggerTid, r.TriggerMntns = 200, 200, 4026532000
	copy(record.Bytes(r.Comm[:]), "tail\x00stale")
	copy(record.Bytes(r.TriggerComm[:]), "sh\xff")
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&r)), unsafe.Sizeof(r))

	t.Run("a victim's record decodes with its trigger apart", func(t *testing.T) {
		ev, ok := decode(raw, probe.Clock{})
		if !ok {
			t.Fatal("record not decoded")
		}
		want := Event{Time: ev.Time, Pid: 100, Tid: 101, MntNS: 4026532000, Comm: "tail",
			TriggerPid: 200, TriggerTid: 200, TriggerMntNS: 4026532000, TriggerComm: "sh\uFFFD", Repaired: 1}
		if ev != want {
			t.Errorf("decoded %+v, want %+v", ev, want)
		}
	})
	t.Run("a short record is refused", func(t *testing.T) {
		if ev, ok := decode(raw[:24], probe.Clock{}); ok {
			t.Errorf("decoded %+v", ev)
		}
	})
	t.Run("another group's record is refused", func(t *testing.T) {
		other := r
		other.Type = victimType - 1
		if ev, ok := decode(unsafe.Slice((*byte)(unsafe.Pointer(&other)), unsafe.Sizeof(other)), probe.Clock{}); ok {
			t.Errorf("decoded %+v", ev)
		}
	})
}

// TestVictimIsTask checks the reading of mark_victim's prototype: the
// probe loads only where the victim is passed as a task.
func TestVictimIsTask(t *testing.T) {
	ctx := &btf.Pointer{Target: &btf.Void{}}
	task := &btf.Pointer{Target: &btf.Struct{Name: "task_struct"}}
	intType := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	proto := func(params ...btf.Type) *btf.Typedef {
		fn := &btf.FuncProto{Return: &btf.Void{}}
		for _, p := range params {
			fn.Params = append(fn.Params, btf.FuncParam{Type: p})
		}
		return &btf.Typedef{Name: "btf_trace_mark_victim", Type: &btf.Pointer{Target: fn}}
	}
	cases := []struct {
		name string
		td   *btf.Typedef
		want bool
	}{
		{"A kernel that passes the victim's task and uid is supported.", proto(ctx, task, intType), true},
		{"A kernel that passes the victim's pid alone is not.", proto(ctx, intType), false},
		{"A prototype without arguments is not.", proto(ctx), false},
		{"A typedef of something other than a function pointer is not.", &btf.Typedef{Name: "x", Type: intType}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := victimIsTask(tc.td); got != tc.want {
				t.Errorf("victimIsTask = %v, want %v", got, tc.want)
			}
		})
	}
}
