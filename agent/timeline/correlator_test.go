package timeline

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
)

type fakeInspector struct {
	evidence, notes []string
	blockers        []summary.Blocker
}

func (f fakeInspector) Inspect(Subject) Inspection {
	return Inspection{Evidence: f.evidence, Notes: f.notes, Blockers: f.blockers}
}

func (f fakeInspector) Processes(SubjectContainer) ([]*apiv1.Process, bool) { return nil, false }

// script builds a pod's events at offsets from t0.
type script struct {
	t0  time.Time
	pod *apiv1.PodRef
}

func (s script) ev(kind string, at time.Duration, mod func(*apiv1.Event)) *apiv1.Event {
	e := &apiv1.Event{Kind: kind, Time: timestamppb.New(s.t0.Add(at)), Pod: s.pod, Container: &apiv1.ContainerRef{Id: "c1", Name: "main"}}
	if mod != nil {
		mod(e)
	}
	return e
}

func signal(name string, pid int32, senderContainer string) func(*apiv1.Event) {
	return func(e *apiv1.Event) {
		e.Signal = &apiv1.Signal{Name: name}
		e.Target = &apiv1.Task{Pid: pid}
		e.Sender = &apiv1.Sender{Comm: "runc", ContainerId: senderContainer}
	}
}

func exit(code int32) func(*apiv1.Event) { return func(e *apiv1.Event) { e.ExitCode = &code } }

// cniFailed makes an event a failed CNI plugin run of the pod's sandbox.
func cniFailed(reason string) func(*apiv1.Event) {
	return func(e *apiv1.Event) {
		code := int32(1)
		e.Container, e.SandboxId, e.ExitCode, e.Reason = nil, "0123456789abcdef", &code, reason
		e.Process = &apiv1.Process{Pid: 77, Comm: "cnifail", Argv: []string{"/opt/cni/bin/cnifail"}}
	}
}

const wantDelNote = "CNI DEL by plugin cnifail for sandbox 0123456789ab failed (exit 1): DEL fails here"

func TestCorrelator(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := script{t0: t0, pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}}
	started := s.ev(apiv1.KindContainerStarted, -time.Minute, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 42} })
	tail := func(at time.Duration) []*apiv1.Event {
		return []*apiv1.Event{
			s.ev(apiv1.KindContainerStopped, at+100*time.Millisecond, nil),
			s.ev(apiv1.KindSandboxStopped, at+200*time.Millisecond, func(e *apiv1.Event) { e.Container = nil }),
			s.ev(apiv1.KindCgroupRemoved, at+300*time.Millisecond, nil),
			s.ev(apiv1.KindContainerRemoved, at+400*time.Millisecond, nil),
			s.ev(apiv1.KindSandboxRemoved, at+500*time.Millisecond, func(e *apiv1.Event) { e.Container = nil }),
		}
	}
	cases := []struct {
		name        string
		events      []*apiv1.Event
		checkAt     time.Duration
		wantKind    string
		wantVerdict string
		wantPhases  []string
		wantBlocked string
		// wantEvidence is a line the report's evidence must hold, and
		// noEvidence a text none of its lines may hold.
		wantEvidence, noEvidence string
	}{
		{
			name: "an exit after SIGTERM is graceful",
			events: append([]*apiv1.Event{started,
				s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
				s.ev(apiv1.KindContainerExited, 50*time.Millisecond, exit(0))}, tail(time.Second)...),
			checkAt: 10 * time.Second, wantKind: apiv1.KindTerminationSummary, wantVerdict: apiv1.VerdictGraceful,
			wantPhases: []string{PhaseStopSignal, PhaseSandboxTeardown, PhaseResourceRelease, PhaseRemoval},
		},
		{
			name: "the runtime's SIGKILL makes it killed, with a prestop phase first",
			events: append([]*apiv1.Event{started,
				s.ev(apiv1.KindPreStopExec, 0, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 50} }),
				s.ev(apiv1.KindProcessExited, time.Second, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 50} }),
				s.ev(apiv1.KindSignalGenerated, time.Second, signal("SIGTERM", 42, "")),
				s.ev(apiv1.KindSignalGenerated, 4*time.Second, signal("SIGKILL", 42, "")),
				s.ev(apiv1.KindContainerExited, 4*time.Second, exit(137))}, tail(5*time.Second)...),
			checkAt: 20 * time.Second, wantKind: apiv1.KindTerminationSummary, wantVerdict: apiv1.VerdictKilled,
			wantPhases: []string{PhasePreStop, PhaseStopSignal, PhaseSIGKILL, PhaseSandboxTeardown, PhaseResourceRelease, PhaseRemoval},
		},
		{
			name: "a SIGKILL from inside the container (its dying init) is not the runtime's",
			events: append([]*apiv1.Event{started,
				s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
				s.ev(apiv1.KindSignalGenerated, 10*time.Millisecond, signal("SIGKILL", 42, "c1")),
				s.ev(apiv1.KindContainerExited, 20*time.Millisecond, exit(0))}, tail(time.Second)...),
			checkAt: 10 * time.Second, wantKind: apiv1.KindTerminationSummary, wantVerdict: apiv1.VerdictGraceful,
		},
		{
			name: "a stopped sandbox whose resources are released completes before the kubelet's garbage collection removes it",
			events: []*apiv1.Event{started,
				s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
				s.ev(apiv1.KindContainerExited, 50*time.Millisecond, exit(0)),
				s.ev(apiv1.KindContainerStopped, 100*time.Millisecond, nil),
				s.ev(apiv1.KindSandboxStopped, 200*time.Millisecond, func(e *apiv1.Event) { e.Container = nil }),
				s.ev(apiv1.KindCgroupRemoved, 300*time.Millisecond, nil)},
			checkAt: 10 * time.Second, wantKind: apiv1.KindTerminationSummary, wantVerdict: apiv1.VerdictGraceful,
			wantPhases: []string{PhaseStopSignal, PhaseSandboxTeardown, PhaseResourceRelease},
		},
		{
			name: "no exit past grace plus slack is stuck in the stop signal phase",
			events: []*apiv1.Event{started,
				s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))},
			checkAt: 40 * time.Second, wantKind: apiv1.KindStuck, wantBlocked: PhaseStopSignal,
		},
		{
			name: "a SIGKILL without an exit is stuck in the sigkill phase",
			events: []*apiv1.Event{started,
				s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
				s.ev(apiv1.KindSignalGenerated, 3*time.Second, signal("SIGKILL", 42, ""))},
			checkAt: 40 * time.Second, wantKind: apiv1.KindStuck, wantBlocked: PhaseSIGKILL,
		},
		{
			// With no sign of the sandbox stopping, the node cannot tell this
			// from `crictl stop` or a restart: a pod stuck in sandbox
			// teardown shows it by a failed CNI DEL (below).
			name: "a stopped container whose sandbox stays up is the container's own termination, not a stuck pod",
			events: []*apiv1.Event{started,
				s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
				s.ev(apiv1.KindContainerExited, time.Second, exit(0)),
				s.ev(apiv1.KindContainerStopped, time.Second, nil)},
			checkAt: 40 * time.Second, wantKind: apiv1.KindContainerSummary, wantVerdict: apiv1.VerdictGraceful,
			wantPhases: []string{PhaseStopSignal},
		},
		{
			name: "a failed CNI DEL is evidence, with its message, of a pod stuck in sandbox teardown",
			events: []*apiv1.Event{started,
				s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
				s.ev(apiv1.KindContainerExited, time.Second, exit(0)),
				s.ev(apiv1.KindContainerStopped, time.Second, nil),
				s.ev(apiv1.KindCNIPluginFailed, 2*time.Second, cniFailed("DEL: DEL fails here")),
				s.ev(apiv1.KindCNIPluginFailed, 3*time.Second, cniFailed("DEL: DEL fails here again"))},
			checkAt: 40 * time.Second, wantKind: apiv1.KindStuck, wantBlocked: PhaseSandboxTeardown,
			wantEvidence: wantDelNote, noEvidence: "again",
		},
		{
			name: "a CNI DEL that failed before it worked is noted in the summary",
			events: append([]*apiv1.Event{started,
				s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
				s.ev(apiv1.KindContainerExited, 50*time.Millisecond, exit(0)),
				s.ev(apiv1.KindCNIPluginFailed, 70*time.Millisecond, cniFailed("DEL: DEL fails here"))}, tail(time.Second)...),
			checkAt: 10 * time.Second, wantKind: apiv1.KindTerminationSummary, wantVerdict: apiv1.VerdictGraceful,
			wantEvidence: wantDelNote,
		},
		{
			name: "a failed CNI ADD is not teardown evidence",
			events: append([]*apiv1.Event{started,
				s.ev(apiv1.KindCNIPluginFailed, -50*time.Second, cniFailed("ADD: no IP addresses left")),
				s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
				s.ev(apiv1.KindContainerExited, 50*time.Millisecond, exit(0))}, tail(time.Second)...),
			checkAt: 10 * time.Second, wantKind: apiv1.KindTerminationSummary, wantVerdict: apiv1.VerdictGraceful,
			noEvidence: "CNI",
		},
		{
			name:    "nothing is reported before grace plus slack",
			events:  []*apiv1.Event{started, s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))},
			checkAt: 30 * time.Second,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out []*apiv1.Event
			cfg := DefaultConfig()
			c := New("n", func(e *apiv1.Event) { out = append(out, e) }, fakeInspector{evidence: []string{"process 42 (sh) state S"}}, cfg)
			c.ContainerChanged(cri.ContainerInfo{ID: "c1", Meta: cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u", ContainerName: "main", GracePeriod: 5}, Pid: 42})
			for _, e := range tc.events {
				c.Observe(e)
			}
			c.now = func() time.Time { return t0.Add(tc.checkAt) }
			c.Check()
			c.Check() // a second check must not repeat anything
			if tc.wantKind == "" {
				if len(out) != 0 {
					t.Fatalf("emitted %v", out)
				}
				return
			}
			if len(out) != 1 || out[0].Kind != tc.wantKind {
				t.Fatalf("emitted %v, want one %s", out, tc.wantKind)
			}
			e := out[0]
			if e.Verdict != tc.wantVerdict || e.BlockingPhase != tc.wantBlocked {
				t.Errorf("verdict %q blocking %q, want %q %q", e.Verdict, e.BlockingPhase, tc.wantVerdict, tc.wantBlocked)
			}
			if tc.wantPhases != nil {
				var names []string
				for _, p := range e.Phases {
					names = append(names, p.Name)
				}
				if strings.Join(names, ",") != strings.Join(tc.wantPhases, ",") {
					t.Errorf("phases %v, want %v", names, tc.wantPhases)
				}
			}
			if tc.wantEvidence != "" && !slices.Contains(e.Evidence, tc.wantEvidence) {
				t.Errorf("evidence %q lacks %q", e.Evidence, tc.wantEvidence)
			}
			if tc.noEvidence != "" && strings.Contains(strings.Join(e.Evidence, "\n"), tc.noEvidence) {
				t.Errorf("evidence %q holds %q", e.Evidence, tc.noEvidence)
			}
			if e.Kind == apiv1.KindStuck && (len(e.Evidence) == 0 || e.Since == nil) {
				t.Errorf("stuck report without evidence or since: %v", e)
			}
		})
	}
}
