package timeline

import (
	"strings"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
)

// step is one thing that happens to a pod, in order: an event, the runtime
// listing a container, or a Check at an offset from t0.
type step struct {
	ev      *apiv1.Event
	listed  *cri.ContainerInfo
	checkAt time.Duration
}

// emitted is what a test expects of one emitted event.
type emitted struct {
	kind, container, verdict string
	exitCode                 int32
	killed                   bool
	// since and at are the event's since and time, as offsets from t0.
	since, at time.Duration
	evidence  string
}

func TestContainerTerminations(t *testing.T) {
	t0 := time.Unix(5000, 0)
	s := script{t0: t0, pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}}
	in := func(id, name string, mods ...func(*apiv1.Event)) func(*apiv1.Event) {
		return func(e *apiv1.Event) {
			e.Container = &apiv1.ContainerRef{Id: id, Name: name}
			for _, m := range mods {
				m(e)
			}
		}
	}
	noContainer := func(e *apiv1.Event) { e.Container = nil }
	pid := func(p int32) func(*apiv1.Event) { return func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: p} } }
	list := func(id, name string, pid int32) step {
		return step{listed: &cri.ContainerInfo{ID: id, Meta: cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u", ContainerName: name, GracePeriod: 5}, Pid: pid}}
	}
	ev := func(e *apiv1.Event) step { return step{ev: e} }
	check := func(at time.Duration) step { return step{checkAt: at} }
	// restart is the kubelet's restart of c1 as c2 after a failed probe:
	// SIGTERM at 0, the exit with code, the new container at 2 s.
	restart := func(code int32) []step {
		return []step{list("c1", "main", 42),
			ev(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))),
			ev(s.ev(apiv1.KindContainerExited, time.Second, exit(code))),
			ev(s.ev(apiv1.KindContainerStopped, 1100*time.Millisecond, nil)),
			list("c2", "main", 43),
			ev(s.ev(apiv1.KindContainerCreated, 2*time.Second, in("c2", "main"))),
			ev(s.ev(apiv1.KindContainerStarted, 2100*time.Millisecond, in("c2", "main", pid(43)))),
			ev(s.ev(apiv1.KindContainerRemoved, 3*time.Second, nil)),
		}
	}
	// deletion deletes the pod, whose container is c2, at d.
	deletion := func(d time.Duration) []step {
		return []step{
			ev(s.ev(apiv1.KindSignalGenerated, d, in("c2", "main", signal("SIGTERM", 43, "")))),
			ev(s.ev(apiv1.KindContainerExited, d+500*time.Millisecond, in("c2", "main", exit(0)))),
			ev(s.ev(apiv1.KindContainerStopped, d+600*time.Millisecond, in("c2", "main"))),
			ev(s.ev(apiv1.KindSandboxStopped, d+700*time.Millisecond, noContainer)),
			ev(s.ev(apiv1.KindContainerRemoved, d+800*time.Millisecond, in("c2", "main"))),
			ev(s.ev(apiv1.KindSandboxRemoved, d+time.Second, noContainer)),
		}
	}
	cat := func(parts ...[]step) []step {
		var out []step
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	cases := []struct {
		name  string
		steps []step
		want  []emitted
	}{
		{
			name: "a restart and a later deletion give one container summary, no stuck report, and a pod summary of the deletion's own length",
			steps: cat(restart(0), []step{check(5 * time.Second), check(40 * time.Second), check(70 * time.Second)},
				deletion(100*time.Second), []step{check(110 * time.Second)}),
			want: []emitted{
				{kind: apiv1.KindContainerSummary, container: "c1", verdict: apiv1.VerdictGraceful, since: 0, at: time.Second},
				{kind: apiv1.KindTerminationSummary, verdict: apiv1.VerdictGraceful, since: 100 * time.Second, at: 101 * time.Second},
			},
		},
		{
			name: "a restart after an OOM kill carries the kernel's victim and memory into its container summary",
			steps: cat([]step{list("c1", "main", 42),
				ev(s.ev(apiv1.KindOOMKilled, 0, func(e *apiv1.Event) {
					e.Reason = "kernel"
					e.Process = &apiv1.Process{Pid: 44, Comm: "tail"}
					limit := uint64(32 << 20)
					e.Memory = &apiv1.Memory{LimitBytes: &limit}
				})),
				ev(s.ev(apiv1.KindContainerExited, 12*time.Millisecond, func(e *apiv1.Event) {
					code := int32(137)
					e.ExitCode, e.Reason = &code, apiv1.ReasonOOMKilled
				})),
				list("c2", "main", 43), check(time.Second)}),
			want: []emitted{{kind: apiv1.KindContainerSummary, container: "c1", verdict: apiv1.VerdictGraceful, exitCode: 137, since: 12 * time.Millisecond, at: 12 * time.Millisecond, evidence: "tail (pid 44)"}},
		},
		{
			name: "a restart the runtime had to SIGKILL is a killed container summary with exit code 137",
			steps: cat([]step{list("c1", "main", 42),
				ev(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))),
				ev(s.ev(apiv1.KindSignalGenerated, 5*time.Second, signal("SIGKILL", 42, ""))),
				ev(s.ev(apiv1.KindContainerExited, 5*time.Second, exit(137))),
				list("c2", "main", 43), check(6 * time.Second)}),
			want: []emitted{{kind: apiv1.KindContainerSummary, container: "c1", verdict: apiv1.VerdictKilled, killed: true, exitCode: 137, since: 0, at: 5 * time.Second}},
		},
		{
			name: "a container stopped by hand and never replaced is its own termination once the decision window passed, and not before",
			steps: []step{list("c1", "main", 42),
				ev(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))),
				ev(s.ev(apiv1.KindContainerExited, time.Second, exit(143))),
				check(5 * time.Second), check(12 * time.Second), check(60 * time.Second)},
			want: []emitted{{kind: apiv1.KindContainerSummary, container: "c1", verdict: apiv1.VerdictGraceful, exitCode: 143, since: 0, at: time.Second}},
		},
		{
			name: "in a mass deletion a stopped container waits past the decision window while other pods' sandboxes stop, and its own sandbox's stop makes it the deletion's",
			steps: []step{list("c1", "main", 42),
				ev(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))),
				ev(s.ev(apiv1.KindContainerExited, time.Second, exit(0))),
				check(5 * time.Second),
				ev(s.ev(apiv1.KindSandboxStopped, 5*time.Second, func(e *apiv1.Event) {
					e.Pod, e.Container = &apiv1.PodRef{Namespace: "ns", Name: "other", Uid: "o"}, nil
				})),
				check(12 * time.Second),
				ev(s.ev(apiv1.KindSandboxStopped, 13*time.Second, noContainer)),
				ev(s.ev(apiv1.KindSandboxRemoved, 13500*time.Millisecond, noContainer)),
				check(20 * time.Second)},
			want: []emitted{
				{kind: apiv1.KindTerminationSummary, verdict: apiv1.VerdictGraceful, since: 5 * time.Second, at: 5 * time.Second}, // the other pod's
				{kind: apiv1.KindTerminationSummary, verdict: apiv1.VerdictGraceful, since: 0, at: 13500 * time.Millisecond},
			},
		},
		{
			name: "in a mass deletion a stopped container waits past the decision window while other pods' container stops are undecided too",
			steps: []step{list("c1", "main", 42),
				{listed: &cri.ContainerInfo{ID: "x", Meta: cri.Meta{PodNamespace: "ns", PodName: "other", PodUID: "o", ContainerName: "main", GracePeriod: 5}, Pid: 77}},
				ev(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))),
				ev(s.ev(apiv1.KindSignalGenerated, 500*time.Millisecond, func(e *apiv1.Event) {
					e.Pod, e.Container = &apiv1.PodRef{Namespace: "ns", Name: "other", Uid: "o"}, &apiv1.ContainerRef{Id: "x", Name: "main"}
					signal("SIGTERM", 77, "")(e)
				})),
				ev(s.ev(apiv1.KindContainerExited, time.Second, exit(0))),
				check(12 * time.Second),
				ev(s.ev(apiv1.KindSandboxStopped, 13*time.Second, noContainer)),
				ev(s.ev(apiv1.KindSandboxRemoved, 13500*time.Millisecond, noContainer)),
				check(20 * time.Second)},
			want: []emitted{{kind: apiv1.KindTerminationSummary, verdict: apiv1.VerdictGraceful, since: 0, at: 13500 * time.Millisecond}},
		},
		{
			name: "a deletion whose sandbox stop a loaded runtime reaches only after the decision window takes the container's stop back: the pod's summary begins at its SIGTERM",
			steps: []step{list("c1", "main", 42),
				ev(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))),
				ev(s.ev(apiv1.KindContainerExited, time.Second, exit(0))),
				check(12 * time.Second),
				check(15 * time.Second),
				ev(s.ev(apiv1.KindContainerRemoved, 18*time.Second, nil)),
				ev(s.ev(apiv1.KindSandboxStopped, 25*time.Second, noContainer)),
				ev(s.ev(apiv1.KindSandboxRemoved, 25500*time.Millisecond, noContainer)),
				check(30 * time.Second)},
			want: []emitted{
				{kind: apiv1.KindContainerSummary, container: "c1", verdict: apiv1.VerdictGraceful, since: 0, at: time.Second},
				{kind: apiv1.KindTerminationSummary, verdict: apiv1.VerdictGraceful, since: 0, at: 25500 * time.Millisecond},
			},
		},
		{
			name: "a container stopped by hand whose pod is deleted minutes later keeps its own termination, and the deletion begins at the sandbox's stop",
			steps: []step{list("c1", "main", 42),
				ev(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))),
				ev(s.ev(apiv1.KindContainerExited, time.Second, exit(0))),
				check(12 * time.Second), check(90 * time.Second),
				ev(s.ev(apiv1.KindSandboxStopped, 120*time.Second, noContainer)),
				ev(s.ev(apiv1.KindSandboxRemoved, 121*time.Second, noContainer)),
				check(130 * time.Second)},
			want: []emitted{
				{kind: apiv1.KindContainerSummary, container: "c1", verdict: apiv1.VerdictGraceful, since: 0, at: time.Second},
				{kind: apiv1.KindTerminationSummary, verdict: apiv1.VerdictGraceful, since: 120 * time.Second, at: 121 * time.Second},
			},
		},
		{
			name: "a deletion begins at the container's SIGTERM once the sandbox stops, with no container summary",
			steps: []step{list("c1", "main", 42),
				ev(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))),
				ev(s.ev(apiv1.KindContainerExited, time.Second, exit(0))),
				ev(s.ev(apiv1.KindSandboxStopped, 1200*time.Millisecond, noContainer)),
				ev(s.ev(apiv1.KindSandboxRemoved, 1500*time.Millisecond, noContainer)),
				check(20 * time.Second)},
			want: []emitted{{kind: apiv1.KindTerminationSummary, verdict: apiv1.VerdictGraceful, since: 0, at: 1500 * time.Millisecond}},
		},
		{
			name: "in a deletion, a container that stopped early waits for its slower sibling instead of becoming a restart",
			steps: []step{list("c1", "a", 42), list("c2", "b", 43),
				ev(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))),
				ev(s.ev(apiv1.KindSignalGenerated, 0, in("c2", "b", signal("SIGTERM", 43, "")))),
				ev(s.ev(apiv1.KindContainerExited, time.Second, exit(0))),
				check(15 * time.Second),
				ev(s.ev(apiv1.KindContainerExited, 20*time.Second, in("c2", "b", exit(0)))),
				ev(s.ev(apiv1.KindSandboxStopped, 20500*time.Millisecond, noContainer)),
				ev(s.ev(apiv1.KindSandboxRemoved, 21*time.Second, noContainer)),
				check(30 * time.Second)},
			want: []emitted{{kind: apiv1.KindTerminationSummary, verdict: apiv1.VerdictGraceful, since: 0, at: 21 * time.Second}},
		},
		{
			name: "a container stop that hangs in a live pod is reported stuck by the pod rules, and its restart's summary says so",
			steps: []step{list("c1", "main", 42),
				ev(s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))),
				check(40 * time.Second),
				ev(s.ev(apiv1.KindSignalGenerated, 45*time.Second, signal("SIGKILL", 42, ""))),
				ev(s.ev(apiv1.KindContainerExited, 45*time.Second, exit(137))),
				list("c2", "main", 43), check(50 * time.Second), check(100 * time.Second)},
			want: []emitted{
				{kind: apiv1.KindStuck, since: 0, at: 40 * time.Second},
				{kind: apiv1.KindContainerSummary, container: "c1", verdict: apiv1.VerdictKilled, killed: true, exitCode: 137, since: 0, at: 45 * time.Second, evidence: "was reported stuck"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out []*apiv1.Event
			c := New("n", func(e *apiv1.Event) { out = append(out, e) }, fakeInspector{evidence: []string{"process 42 (sh) state S"}}, DefaultConfig())
			c.now = func() time.Time { return t0 }
			for _, st := range tc.steps {
				switch {
				case st.ev != nil:
					c.Observe(st.ev)
				case st.listed != nil:
					c.ContainerChanged(*st.listed)
				default:
					c.now = func() time.Time { return t0.Add(st.checkAt) }
					c.Check()
				}
			}
			if len(out) != len(tc.want) {
				t.Fatalf("emitted %d events %v, want %d", len(out), out, len(tc.want))
			}
			for i, w := range tc.want {
				e := out[i]
				if e.Kind != w.kind || e.GetContainer().GetId() != w.container || e.Verdict != w.verdict || e.GetKilled() != w.killed {
					t.Errorf("event %d: %s of %q verdict %q killed %v, want %s of %q verdict %q killed %v",
						i, e.Kind, e.GetContainer().GetId(), e.Verdict, e.GetKilled(), w.kind, w.container, w.verdict, w.killed)
				}
				if w.kind == apiv1.KindContainerSummary && e.GetExitCode() != w.exitCode {
					t.Errorf("event %d: exit code %d, want %d", i, e.GetExitCode(), w.exitCode)
				}
				if !e.GetSince().AsTime().Equal(t0.Add(w.since)) || !e.GetTime().AsTime().Equal(t0.Add(w.at)) {
					t.Errorf("event %d: since %v time %v, want %v %v", i, e.GetSince().AsTime(), e.GetTime().AsTime(), t0.Add(w.since), t0.Add(w.at))
				}
				ev := strings.Join(e.Evidence, "\n")
				if w.evidence != "" && !strings.Contains(ev, w.evidence) {
					t.Errorf("event %d: evidence %q lacks %q", i, e.Evidence, w.evidence)
				}
				if w.kind == apiv1.KindTerminationSummary && strings.Contains(ev, "stuck") {
					t.Errorf("event %d: the pod's summary says it was stuck: %q", i, e.Evidence)
				}
			}
		})
	}
}
