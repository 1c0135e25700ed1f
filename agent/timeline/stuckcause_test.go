package timeline

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
)

// blockingInspector names the blockers it was given and keeps the
// subjects it was asked about.
type blockingInspector struct {
	blockers []summary.Blocker
	subjects *[]Subject
}

func (b blockingInspector) Inspect(s Subject) Inspection {
	*b.subjects = append(*b.subjects, s)
	if !s.Due {
		return Inspection{}
	}
	return Inspection{Evidence: []string{"process 42 (sh) state S"}, Blockers: b.blockers}
}

func (b blockingInspector) Processes(SubjectContainer) ([]*apiv1.Process, bool) { return nil, false }

func TestStuckReportsNameTheirCause(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := script{t0: t0, pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}}
	started := s.ev(apiv1.KindContainerStarted, -time.Minute, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 42} })
	hung := []*apiv1.Event{started, s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, ""))}
	// Everything but the volumes: the sandbox is stopped, and its removal
	// waits for the kubelet, which waits for the unmount.
	unreleased := []*apiv1.Event{started,
		s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
		s.ev(apiv1.KindContainerExited, 50*time.Millisecond, exit(0)),
		s.ev(apiv1.KindContainerStopped, 100*time.Millisecond, nil),
		s.ev(apiv1.KindSandboxStopped, 200*time.Millisecond, func(e *apiv1.Event) { e.Container = nil })}
	busy := summary.Blocker{Cause: apiv1.StuckBusyMount, What: "sleep (pid 99)", Facts: []string{"mount still present: /v", "sleep (pid 99) keeps it busy: its working directory is in /v"}}
	cases := []struct {
		name     string
		events   []*apiv1.Event
		blockers []summary.Blocker
		// want are the report's causes; wantPhase its blocking phase.
		want      []string
		wantPhase string
		// advice is a text the first cause's advice must hold.
		advice string
		// cniDel is what the inspector must have been told of CNI DEL.
		cniDel string
	}{
		{
			name:   "a hang in which nothing names a cause says unknown, with every line of evidence as its facts",
			events: hung, want: []string{apiv1.StuckUnknown}, wantPhase: PhaseStopSignal,
			advice: "read the evidence",
		},
		{
			name:   "a busy volume blocks the release of resources, not the removal, and the advice names its holder",
			events: unreleased, blockers: []summary.Blocker{busy},
			want: []string{apiv1.StuckBusyMount}, wantPhase: PhaseResourceRelease, advice: "sleep (pid 99) keeps the pod's volume busy",
		},
		{
			// The kubelet's garbage collection removes the sandbox of a
			// deleted pod whatever its volumes; the pod stays Terminating
			// until they are unmounted.
			name: "a busy volume keeps the termination open after the kubelet's garbage collection removed the sandbox",
			events: append(slices.Clone(unreleased),
				s.ev(apiv1.KindContainerRemoved, 20*time.Second, nil),
				s.ev(apiv1.KindSandboxRemoved, 20*time.Second, func(e *apiv1.Event) { e.Container = nil })),
			blockers: []summary.Blocker{busy},
			want:     []string{apiv1.StuckBusyMount}, wantPhase: PhaseResourceRelease, advice: "sleep (pid 99) keeps the pod's volume busy",
		},
		{
			name:   "a stopped shim blocks the phase the termination is in",
			events: hung, blockers: []summary.Blocker{{Cause: apiv1.StuckShimStopped, What: "runtime shim containerd-shim (pid 7)"}},
			want: []string{apiv1.StuckShimStopped}, wantPhase: PhaseStopSignal, advice: "kill -CONT",
		},
		{
			name: "a failed CNI DEL reaches the inspector, which names it",
			events: append(slices.Clone(hung[:1]),
				s.ev(apiv1.KindSignalGenerated, 0, signal("SIGTERM", 42, "")),
				s.ev(apiv1.KindContainerExited, time.Second, exit(0)),
				s.ev(apiv1.KindContainerStopped, time.Second, nil),
				s.ev(apiv1.KindCNIPluginFailed, 2*time.Second, cniFailed("DEL: DEL fails here"))),
			blockers: []summary.Blocker{{Cause: apiv1.StuckCNIDelFailing, What: wantDelNote}},
			want:     []string{apiv1.StuckCNIDelFailing}, wantPhase: PhaseSandboxTeardown, advice: "DEL fails here", cniDel: wantDelNote,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out []*apiv1.Event
			var subjects []Subject
			cfg := DefaultConfig()
			cfg.ExpectMounts = true // the kubelet's root is watched, as on a node
			c := New("n", func(e *apiv1.Event) { out = append(out, e) }, blockingInspector{blockers: tc.blockers, subjects: &subjects}, cfg)
			c.ContainerChanged(cri.ContainerInfo{ID: "c1", Meta: cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u", ContainerName: "main", GracePeriod: 5}, Pid: 42})
			for _, e := range tc.events {
				c.Observe(e)
			}
			c.now = func() time.Time { return t0.Add(40 * time.Second) }
			c.Check()
			if len(out) != 1 || out[0].Kind != apiv1.KindStuck {
				t.Fatalf("emitted %v, want one stuck report", out)
			}
			e := out[0]
			var got []string
			for _, cause := range e.Causes {
				got = append(got, cause.Cause)
			}
			if !slices.Equal(got, tc.want) || e.BlockingPhase != tc.wantPhase {
				t.Errorf("causes %v blocking %q, want %v %q", got, e.BlockingPhase, tc.want, tc.wantPhase)
			}
			if advice := e.Causes[0].GetAdvice(); !strings.Contains(advice, tc.advice) {
				t.Errorf("advice %q, want it to hold %q", advice, tc.advice)
			}
			if e.Causes[0].Cause == apiv1.StuckUnknown && !slices.Equal(e.Causes[0].Facts, e.Evidence) {
				t.Errorf("unknown's facts %q, want the evidence %q", e.Causes[0].Facts, e.Evidence)
			}
			if len(subjects) == 0 || subjects[len(subjects)-1].CNIDelFailure != tc.cniDel {
				t.Errorf("the inspector was told of CNI DEL %q, want %q", subjects[len(subjects)-1].CNIDelFailure, tc.cniDel)
			}
		})
	}
}
