package kernel

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/oom"
	"github.com/graceline/graceline/bpf/signals"
)

// TestKernelOOM checks how the kernel's view of an OOM kill is attributed:
// the victim to its container with the memory its cgroup tells, the task
// that ran the OOM killer as its context, and the SIGKILL as the kernel's.
func TestKernelOOM(t *testing.T) {
	const ns, otherNS = 4026532000, 4026532001
	now := time.Now()
	// A v1 memory hierarchy with the container's cgroup, and a cpu one
	// that is not a memory cgroup.
	root := t.TempDir()
	for _, d := range []string{"cpu/k8s.io/c1", "memory/k8s.io/c1"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"memory.limit_in_bytes": "16777216", "memory.usage_in_bytes": "1024", "memory.max_usage_in_bytes": "16777216"} {
		if err := os.WriteFile(filepath.Join(root, "memory/k8s.io/c1", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pod := &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}
	victim := &containerRef{id: "c1", name: "main", pod: pod, cgroupsPath: "/k8s.io/c1"}
	other := &containerRef{id: "c2", name: "side", pod: pod}
	cases := []struct {
		name  string
		event kernelEvent
		check func(t *testing.T, e *apiv1.Event)
	}{
		{
			name:  "The OOM killer's victim is an oom_killed of its container, with its limit, usage and peak.",
			event: kernelEvent{oom: &oom.Event{Time: now, Pid: 10, Tid: 10, MntNS: ns, Comm: "tail", TriggerPid: 10, TriggerTid: 10, TriggerMntNS: ns, TriggerComm: "tail"}},
			check: func(t *testing.T, e *apiv1.Event) {
				if e.Kind != apiv1.KindOOMKilled || e.Reason != apiv1.ReasonSeenByKernel || e.Container.GetId() != "c1" || e.Process.GetPid() != 10 || e.Process.GetComm() != "tail" {
					t.Errorf("got %v, want oom_killed of tail (10) in c1, seen by the kernel", e)
				}
				if m := e.GetMemory(); m.GetLimitBytes() != 16<<20 || m.GetUsageBytes() != 1024 || m.GetPeakBytes() != 16<<20 {
					t.Errorf("memory = %v, want limit and peak 16 MiB, usage 1024", m)
				}
				if s := e.GetSender(); s.GetKernel() != apiv1.SenderOOMKiller || s.GetPid() != 10 || s.GetContainerId() != "c1" {
					t.Errorf("sender = %v, want the OOM killer in the context of pid 10 in c1", s)
				}
			},
		},
		{
			name:  "A victim chosen while another container allocated names that container as the context.",
			event: kernelEvent{oom: &oom.Event{Time: now, Pid: 11, Tid: 11, MntNS: ns, Comm: "tail", TriggerPid: 20, TriggerTid: 20, TriggerMntNS: otherNS, TriggerComm: "java"}},
			check: func(t *testing.T, e *apiv1.Event) {
				if s := e.GetSender(); s.GetKernel() != apiv1.SenderOOMKiller || s.GetComm() != "java" || s.GetContainerId() != "c2" {
					t.Errorf("sender = %v, want the OOM killer in java's context in c2", s)
				}
			},
		},
		{
			name:  "A SIGKILL the kernel sent on its own behalf is marked as the kernel's, its context named.",
			event: kernelEvent{signal: &signals.Event{Type: signals.Generate, Time: now, Signal: syscall.SIGKILL, MntNS: ns, Pid: 10, Tid: 10, Comm: "tail", SenderPid: 10, SenderComm: "tail", SenderMntNS: ns, SenderIsKernel: true}},
			check: func(t *testing.T, e *apiv1.Event) {
				if s := e.GetSender(); s.GetKernel() != apiv1.SenderKernel || s.GetComm() != "tail" {
					t.Errorf("sender = %v, want the kernel in tail's context", s)
				}
			},
		},
		{
			name:  "A SIGKILL a process sent is not the kernel's.",
			event: kernelEvent{signal: &signals.Event{Type: signals.Generate, Time: now, Signal: syscall.SIGKILL, MntNS: ns, Pid: 10, Tid: 10, Comm: "tail", SenderPid: 99, SenderComm: "runc", SenderMntNS: 1}},
			check: func(t *testing.T, e *apiv1.Event) {
				if s := e.GetSender(); s.GetKernel() != "" || s.GetComm() != "runc" {
					t.Errorf("sender = %v, want runc, not the kernel", s)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, out, _ := newTestKernelSource(t)
			k.cgroupRoot = root
			k.reg.byNS[ns], k.reg.byNS[otherNS] = victim, other
			k.handle(tc.event)
			if len(*out) != 1 {
				t.Fatalf("emitted %d events, want 1", len(*out))
			}
			tc.check(t, (*out)[0])
		})
	}

	t.Run("An OOM victim whose container is not known yet is held, then attributed.", func(t *testing.T) {
		k, out, _ := newTestKernelSource(t)
		k.handle(kernelEvent{oom: &oom.Event{Time: now, Pid: 12, MntNS: ns, Comm: "tail"}})
		if len(*out) != 0 || len(k.pending) != 1 {
			t.Fatalf("emitted %d, held %d; want it held", len(*out), len(k.pending))
		}
		k.reg.byNS[ns] = victim
		k.retryPending(false)
		if len(*out) != 1 || (*out)[0].Kind != apiv1.KindOOMKilled || (*out)[0].Container.GetId() != "c1" {
			t.Fatalf("held OOM kill not attributed once the container was known: %v", *out)
		}
	})
}
