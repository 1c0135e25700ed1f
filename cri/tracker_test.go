package cri

import (
	"fmt"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestTracker(t *testing.T) {
	meta := &Meta{PodNamespace: "ns", PodName: "p", PodUID: "u", ContainerName: "main"}
	sbMeta := &Meta{PodNamespace: "ns", PodName: "p", PodUID: "u", Type: TypeSandbox}
	t0 := time.Unix(1000, 0)
	exit137 := &Exit{Code: 137, At: t0.Add(time.Second)}
	c := func(k ObservationKind, m *Meta, x *Exit) Observation {
		return Observation{Kind: k, ID: "c", SandboxID: "s", Meta: m, Time: t0, Exit: x}
	}
	s := func(k ObservationKind, m *Meta) Observation {
		return Observation{Kind: k, ID: "s", Meta: m, Time: t0}
	}
	cases := []struct {
		name      string
		obs       []Observation
		want      []string
		wantCode  int32
		wantWhy   string
		wantNoErr bool
	}{
		{
			name: "each stage is emitted once in order, however often it is seen",
			obs: []Observation{s(SandboxReady, sbMeta), c(ContainerCreated, meta, nil), c(ContainerStarted, meta, nil), c(ContainerStarted, meta, nil),
				c(ContainerExited, nil, exit137), c(ContainerStopped, meta, nil), c(ContainerStopped, meta, nil), s(SandboxStopped, nil), s(SandboxStopped, nil),
				c(ContainerRemoved, nil, nil), s(SandboxRemoved, nil), c(ContainerRemoved, nil, nil)},
			want:     []string{"container_created", "container_started", "container_exited", "container_stopped", "sandbox_stopped", "container_removed", "sandbox_removed"},
			wantCode: 137, wantWhy: apiv1.ReasonError,
		},
		{
			name:     "a container first seen stopped gets its skipped stages first",
			obs:      []Observation{c(ContainerStopped, meta, &Exit{Code: 0})},
			want:     []string{"container_created", "container_started", "container_exited", "container_stopped"},
			wantCode: 0, wantWhy: apiv1.ReasonCompleted,
		},
		{
			name:     "an exit and an OOM kill seen before the container are kept for it",
			obs:      []Observation{c(ContainerOOM, nil, nil), c(ContainerExited, nil, exit137), c(ContainerStarted, meta, nil), c(ContainerStopped, meta, nil)},
			want:     []string{"container_created", "container_started", "oom_killed", "container_exited", "container_stopped"},
			wantCode: 137, wantWhy: apiv1.ReasonOOMKilled,
		},
		{
			name: "an OOM kill of a running container is reported once, however often containerd says so",
			obs: []Observation{c(ContainerStarted, meta, nil), c(ContainerOOM, nil, nil), c(ContainerOOM, nil, nil),
				c(ContainerExited, nil, exit137), c(ContainerOOM, nil, nil)},
			want:     []string{"container_created", "container_started", "oom_killed", "container_exited"},
			wantCode: 137, wantWhy: apiv1.ReasonOOMKilled,
		},
		{
			name:      "a sandbox seen only as removed gets the kubelet order, with an unknown exit",
			obs:       []Observation{s(SandboxReady, sbMeta), c(ContainerStarted, meta, nil), s(SandboxRemoved, nil)},
			want:      []string{"container_created", "container_started", "container_exited", "container_stopped", "sandbox_stopped", "container_removed", "sandbox_removed"},
			wantWhy:   apiv1.ReasonUnknown,
			wantNoErr: true,
		},
		{
			name: "the kernel's report of the init's exit, first, is the exit; containerd's later one adds nothing",
			obs: []Observation{c(ContainerStarted, meta, nil), c(ContainerExited, nil, &Exit{Code: 137, Reason: apiv1.ReasonOOMKilled, At: t0}),
				c(ContainerExited, nil, &Exit{Code: 0, At: t0.Add(time.Second)}), c(ContainerStopped, meta, nil)},
			want:     []string{"container_created", "container_started", "container_exited", "container_stopped"},
			wantCode: 137, wantWhy: apiv1.ReasonOOMKilled,
		},
		{
			name: "events about objects never listed through CRI are ignored",
			obs:  []Observation{c(ContainerRemoved, nil, nil), s(SandboxStopped, nil), c(ContainerStopped, nil, nil)},
		},
		{
			name:     "a late observation of a removed container does not revive it",
			obs:      []Observation{c(ContainerStopped, meta, exit137), c(ContainerRemoved, nil, nil), c(ContainerStarted, meta, nil), c(ContainerCreated, meta, nil)},
			want:     []string{"container_created", "container_started", "container_exited", "container_stopped", "container_removed"},
			wantCode: 137, wantWhy: apiv1.ReasonError,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []*apiv1.Event
			tr := NewTracker("node", func(e *apiv1.Event) { got = append(got, e) })
			for _, o := range tc.obs {
				tr.Apply(o)
			}
			var kinds []string
			for _, e := range got {
				kinds = append(kinds, e.Kind)
				if e.Node != "node" || e.Pod.GetUid() != "u" {
					t.Errorf("%s: node %q pod %v", e.Kind, e.Node, e.Pod)
				}
			}
			if fmt.Sprint(kinds) != fmt.Sprint(tc.want) {
				t.Fatalf("kinds = %v, want %v", kinds, tc.want)
			}
			for _, e := range got {
				if e.Kind == apiv1.KindOOMKilled && (e.Reason != apiv1.ReasonSeenByRuntime || e.Container.GetId() != "c" || e.Container.GetName() != "main") {
					t.Errorf("oom_killed %v, want the runtime's report naming container c (main)", e)
				}
				if e.Kind != apiv1.KindContainerExited {
					continue
				}
				if e.Reason != tc.wantWhy {
					t.Errorf("reason = %q, want %q", e.Reason, tc.wantWhy)
				}
				if tc.wantNoErr {
					if e.ExitCode != nil {
						t.Errorf("exit code = %d for an exit nobody saw", *e.ExitCode)
					}
				} else if e.ExitCode == nil || *e.ExitCode != tc.wantCode {
					t.Errorf("exit code = %v, want %d", e.ExitCode, tc.wantCode)
				}
			}
		})
	}
}

func TestTrackerSeedEmitsNothing(t *testing.T) {
	var n int
	tr := NewTracker("node", func(*apiv1.Event) { n++ })
	tr.Seed(Observation{Kind: ContainerStarted, ID: "c", Meta: &Meta{}, Time: time.Now()})
	tr.Apply(Observation{Kind: ContainerStarted, ID: "c", Time: time.Now()})
	if n != 0 {
		t.Fatalf("emitted %d events for a container that was running before the agent started", n)
	}
	tr.Apply(Observation{Kind: ContainerStopped, ID: "c", Time: time.Now(), Exit: &Exit{Code: 1}})
	if n != 2 {
		t.Fatalf("emitted %d events after the seeded container stopped, want exited+stopped", n)
	}
}
