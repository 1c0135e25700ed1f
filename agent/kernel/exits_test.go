package kernel

import (
	"syscall"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/oom"
	"github.com/graceline/graceline/bpf/process"
	"github.com/graceline/graceline/cri"
)

// TestInitExits checks which kernel events tell the runtime tracker that a
// container's init exited, and how.
func TestInitExits(t *testing.T) {
	const ns, pauseNS = 4026532000, 4026532001
	exit := func(mntns, pid uint32, leader bool, status int32, sig syscall.Signal) kernelEvent {
		return kernelEvent{process: &process.Event{Type: process.Exit, Time: testNow, MntNS: mntns, Pid: pid, Tid: pid, Leader: leader, ExitStatus: status, ExitSignal: sig}}
	}
	victim := kernelEvent{oom: &oom.Event{Time: testNow, MntNS: ns, Pid: 10}}
	cases := []struct {
		name   string
		events []kernelEvent
		// want is the code and reason of the one exit reported, or nil
		// for none.
		want *cri.Exit
	}{
		{"an init killed by SIGKILL exited with 137", []kernelEvent{exit(ns, 10, true, 0, syscall.SIGKILL)}, &cri.Exit{Code: 137}},
		{"an init that returned 3 exited with 3", []kernelEvent{exit(ns, 10, true, 3, 0)}, &cri.Exit{Code: 3}},
		{"an init after an OOM kill in its container was OOMKilled", []kernelEvent{victim, exit(ns, 10, true, 0, syscall.SIGKILL)}, &cri.Exit{Code: 137, Reason: apiv1.ReasonOOMKilled}},
		{"another process's exit in the container is not the init's", []kernelEvent{exit(ns, 11, true, 0, 0)}, nil},
		{"a thread of the init is not the init", []kernelEvent{exit(ns, 10, false, 0, syscall.SIGKILL)}, nil},
		{"the pause's exit is not a container's", []kernelEvent{exit(pauseNS, 20, true, 0, syscall.SIGKILL)}, nil},
		{"an exit in a namespace not known is not reported", []kernelEvent{exit(4026532999, 10, true, 0, 0)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, _, _ := newTestKernelSource(t)
			k.exits = make(chan cri.Observation, exitQueueLen)
			pod := &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}
			k.reg.byNS[ns] = &containerRef{id: "c1", name: "main", pod: pod, pid: 10}
			k.reg.byNS[pauseNS] = &containerRef{id: "sb1", pod: pod, pid: 20, sandbox: true}
			for _, e := range tc.events {
				k.handle(e)
			}
			var got []cri.Observation
			for len(k.exits) > 0 {
				got = append(got, <-k.exits)
			}
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("reported %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("reported %d exits, want one", len(got))
			}
			o := got[0]
			if o.Kind != cri.ContainerExited || o.ID != "c1" || o.Source != cri.SourceKernel || !o.Time.Equal(testNow) {
				t.Errorf("reported %v of %q from %s at %s, want ContainerExited of c1 from %s at %s", o.Kind, o.ID, o.Source, o.Time, cri.SourceKernel, testNow)
			}
			if x := o.Exit; x.Code != tc.want.Code || x.Reason != tc.want.Reason || !x.At.Equal(testNow) {
				t.Errorf("exit %+v, want code %d reason %q at %s", *x, tc.want.Code, tc.want.Reason, testNow)
			}
		})
	}
}
