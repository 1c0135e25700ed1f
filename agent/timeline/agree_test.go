package timeline

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/graceline/graceline/agent/record"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
	"github.com/graceline/graceline/cri"
)

// TestBothSidesAgree replays event streams recorded from real terminations
// (testdata/*.jsonl, written by `GRACELINE_E2E_RECORD=dir go test -run
// 'TestTerminationSummary|TestCauses|TestFrozenContainer' ./test/e2e`)
// through the agent's correlator, driven as its sources drive it, and
// through the collector's summary of the same events as its store returns
// them, without the agent's summary. Both must give the same verdict,
// killed flag, exit codes and phases, to the nanosecond, and each
// container the same cause, advice and facts, and the same as the real
// agent gave in the recording. The agent's own inspections at the stop
// (container_inspected) are part of the stream: the replayed correlator
// reads nothing from this machine.
func TestBothSidesAgree(t *testing.T) {
	cases := []struct {
		name        string
		file        string // without the runtime's prefix
		wantVerdict string
		wantPhases  []string          // phases the summary must have, among others
		wantCauses  map[string]string // each container's cause
	}{
		{"a container that exits on SIGTERM is graceful on both sides", "graceful", apiv1.VerdictGraceful, []string{PhaseStopSignal},
			map[string]string{"main": apiv1.CauseExitedOnStopSignal}},
		{"a container that ignores SIGTERM is killed on both sides", "stubborn", apiv1.VerdictKilled, []string{PhaseStopSignal, PhaseSIGKILL},
			map[string]string{"main": apiv1.CauseSignalIgnored}},
		{"a preStop hook is the first phase on both sides", "prestop", apiv1.VerdictGraceful, []string{PhasePreStop, PhaseStopSignal},
			map[string]string{"main": apiv1.CauseExitedOnStopSignal}},
		{"a pod with one stubborn container of three is killed on both sides", "multi", apiv1.VerdictKilled, []string{PhaseStopSignal, PhaseSIGKILL},
			map[string]string{"clean": apiv1.CauseExitedOnStopSignal, "three": apiv1.CauseExitedOnStopSignal, "stubborn": apiv1.CauseSignalIgnored}},
		{"a pod with its own network releases it in the same phases on both sides", "released", apiv1.VerdictGraceful, []string{PhaseResourceRelease},
			map[string]string{"main": apiv1.CauseExitedOnStopSignal}},
		{"a shell PID 1 without a trap has no handler on both sides", "notrap", apiv1.VerdictKilled, []string{PhaseStopSignal, PhaseSIGKILL},
			map[string]string{"main": apiv1.CausePID1NoHandler}},
		{"a trap that sleeps past the grace period is too slow on both sides", "slowtrap", apiv1.VerdictKilled, []string{PhaseSIGKILL},
			map[string]string{"main": apiv1.CauseHandlerTooSlow}},
		{"trap '' TERM ignores the signal on both sides", "ignores", apiv1.VerdictKilled, []string{PhaseSIGKILL},
			map[string]string{"main": apiv1.CauseSignalIgnored}},
		{"a shell that takes SIGTERM and forwards nothing leaves its worker without it on both sides", "noforward", apiv1.VerdictKilled, []string{PhaseSIGKILL},
			map[string]string{"main": apiv1.CauseSignalNotForwarded}},
		{"a PID 1 killed by the OOM killer is OOM-killed on both sides", "oominit", apiv1.VerdictGraceful, nil,
			map[string]string{"main": apiv1.CauseOOMKilled}},
		{"a container that exited before the delete did so on both sides", "early", apiv1.VerdictGraceful, nil,
			map[string]string{"main": apiv1.CauseExitedBeforeStop}},
		{"a container frozen at the stop is frozen on both sides", "frozen", apiv1.VerdictKilled, []string{PhaseSIGKILL},
			map[string]string{"main": apiv1.CauseFrozen}},
	}
	for _, runtime := range []string{"containerd-1.6", "containerd-2"} {
		for _, tc := range cases {
			t.Run(runtime+": "+tc.name, func(t *testing.T) {
				stream, recorded := readRecording(t, filepath.Join("testdata", runtime+"-"+tc.file+".jsonl"))
				agent := replayAgent(t, stream, recorded.GetGracePeriodS())
				collector := query.Summarize(stored(stream))

				if agent.Verdict != tc.wantVerdict || agent.GetKilled() != (tc.wantVerdict == apiv1.VerdictKilled) {
					t.Errorf("agent: verdict %q killed %v, want %q", agent.Verdict, agent.GetKilled(), tc.wantVerdict)
				}
				for _, name := range tc.wantPhases {
					if !slices.Contains(phaseNames(agent), name) {
						t.Errorf("agent: phases %v lack %s", phaseNames(agent), name)
					}
				}
				if got := causes(agent); !maps.Equal(got, tc.wantCauses) {
					t.Errorf("agent: causes %v, want %v", got, tc.wantCauses)
				}
				if got, want := outcome(collector), outcome(agent); got != want {
					t.Errorf("the collector's summary differs from the agent's:\ncollector %s\nagent     %s", got, want)
				}
				if got, want := outcome(agent), outcome(recorded); got != want {
					t.Errorf("the replayed agent's summary differs from the recorded one:\nreplayed %s\nrecorded %s", got, want)
				}
				kept := keptByPolicy(stream)
				if got, want := outcome(query.Summarize(stored(kept))), outcome(agent); got != want {
					t.Errorf("the collector's summary of the %d events of %d that the recording policy keeps differs from the agent's:\ncollector %s\nagent     %s", len(kept), len(stream), got, want)
				}
			})
		}
	}
}

// readRecording returns a recorded stream without the agent's own output
// (summaries and stuck reports), and the recorded summary.
func readRecording(t *testing.T, path string) (stream []*apiv1.Event, summary *apiv1.Event) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		e := new(apiv1.Event)
		if err := apiv1.UnmarshalJSONLine(sc.Bytes(), e); err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		switch e.Kind {
		case apiv1.KindTerminationSummary:
			summary = e
		case apiv1.KindStuck:
		default:
			stream = append(stream, e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if summary == nil || len(stream) == 0 {
		t.Fatalf("%s holds %d events and no summary", path, len(stream))
	}
	return stream, summary
}

// replayAgent feeds stream, in the order the agent saw it, to a correlator
// whose clock is the newest event time seen, ticking as the agent does, and
// returns the summary it emits. The runtime tells the correlator of each
// container as it starts, with its pid and the pod's grace period.
func replayAgent(t *testing.T, stream []*apiv1.Event, grace int32) *apiv1.Event {
	t.Helper()
	var out []*apiv1.Event
	cfg := DefaultConfig()
	cfg.ExpectMounts = true
	c := New("e2e-node", func(e *apiv1.Event) { out = append(out, e) }, fakeInspector{}, cfg)
	now := stream[0].GetTime().AsTime()
	c.now = func() time.Time { return now }
	next := now.Add(cfg.Tick)
	tickUntil := func(at time.Time) {
		for ; !next.After(at); next = next.Add(cfg.Tick) {
			now = next
			c.Check()
		}
	}
	for _, e := range stream {
		at := e.GetTime().AsTime()
		tickUntil(at)
		if at.After(now) {
			now = at
		}
		if e.Kind == apiv1.KindContainerStarted {
			pod := e.GetPod()
			c.ContainerChanged(cri.ContainerInfo{ID: e.GetContainer().GetId(), SandboxID: e.SandboxId, Pid: e.GetProcess().GetPid(),
				Meta: cri.Meta{PodNamespace: pod.GetNamespace(), PodName: pod.GetName(), PodUID: pod.GetUid(), ContainerName: e.GetContainer().GetName(), GracePeriod: int64(grace)}})
		}
		c.Observe(e)
	}
	tickUntil(now.Add(time.Minute))
	if len(out) != 1 || out[0].Kind != apiv1.KindTerminationSummary {
		t.Fatalf("the correlator emitted %v, want one summary", out)
	}
	return out[0]
}

// keptByPolicy returns what the agent's recording policy records of stream,
// learning the init processes' pids as the runtime would tell it: each
// container's from its start, the pause's from its exec.
func keptByPolicy(stream []*apiv1.Event) []*apiv1.Event {
	var kept []*apiv1.Event
	m := record.NewMetrics(prometheus.NewRegistry(), prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dropped"}, []string{"reason"}))
	p := record.New(func(e *apiv1.Event) { kept = append(kept, e) }, record.DefaultConfig(), m)
	for _, e := range stream {
		uid := e.GetPod().GetUid()
		switch {
		case e.Kind == apiv1.KindContainerStarted:
			p.ContainerChanged(cri.ContainerInfo{ID: e.GetContainer().GetId(), Pid: e.GetProcess().GetPid(), Meta: cri.Meta{PodUID: uid}})
		case e.Kind == apiv1.KindExec && e.Container == nil && e.GetProcess().GetComm() == "pause":
			p.SandboxChanged(cri.SandboxInfo{Pid: e.GetProcess().GetPid(), Meta: cri.Meta{PodUID: uid}})
		}
		// The policy sets a collapsed row's count; the stream stays as read.
		p.Emit(proto.CloneOf(e))
	}
	// The summary sends what is still held; it is not part of the stream.
	p.Emit(&apiv1.Event{Kind: apiv1.KindTerminationSummary, Pod: stream[0].GetPod()})
	return kept[:len(kept)-1]
}

// stored returns the events in time order, as the collector's store lists
// them.
func stored(stream []*apiv1.Event) []*apiv1.Event {
	out := slices.Clone(stream)
	slices.SortStableFunc(out, func(a, b *apiv1.Event) int { return a.GetTime().AsTime().Compare(b.GetTime().AsTime()) })
	return out
}

// causes maps each container's name to its cause.
func causes(s *apiv1.Event) map[string]string {
	out := map[string]string{}
	for _, c := range s.GetCauses() {
		out[c.GetContainer().GetName()] = c.GetCause()
	}
	return out
}

func phaseNames(s *apiv1.Event) []string {
	var names []string
	for _, p := range s.GetPhases() {
		names = append(names, p.Name)
	}
	return names
}

// outcome renders what both sides must agree on.
func outcome(s *apiv1.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict=%s killed=%v exit_codes=%v phases=", s.GetVerdict(), s.GetKilled(), s.GetExitCodes())
	for _, p := range s.GetPhases() {
		fmt.Fprintf(&b, "%s[%s..%s] ", p.Name, p.GetStart().AsTime().Format(time.RFC3339Nano), p.GetEnd().AsTime().Format(time.RFC3339Nano))
	}
	for _, c := range s.GetCauses() {
		fmt.Fprintf(&b, "\n  cause %s=%s advice=%q facts=%q", c.GetContainer().GetName(), c.Cause, c.Advice, c.Facts)
	}
	return b.String()
}
