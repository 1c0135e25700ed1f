package summary

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// The crafted container's init is sh, pid 7; runc (pid 50) stops it.
const initPid = 7

func started() *apiv1.Event {
	return ev(apiv1.KindContainerStarted, -time.Minute, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: initPid} })
}

// signalAt is a signal generated for pid at d, from runc unless sender says
// otherwise.
func signalAt(d time.Duration, number int32, pid int32, result string, sender ...*apiv1.Sender) *apiv1.Event {
	return ev(apiv1.KindSignalGenerated, d, func(e *apiv1.Event) {
		e.Signal = &apiv1.Signal{Number: number, Name: apiv1.SignalName(number), Result: result}
		e.Target = &apiv1.Task{Pid: pid, Tid: pid, Comm: "sh"}
		e.Sender = &apiv1.Sender{Pid: 50, Comm: "runc"}
		if len(sender) > 0 {
			e.Sender = sender[0]
		}
	})
}

func term(d time.Duration, result string) *apiv1.Event { return signalAt(d, 15, initPid, result) }
func kill(d time.Duration) *apiv1.Event                { return signalAt(d, 9, initPid, "delivered") }

func delivered(d time.Duration, disposition string) *apiv1.Event {
	return ev(apiv1.KindSignalDelivered, d, func(e *apiv1.Event) {
		e.Signal, e.Target, e.Disposition = &apiv1.Signal{Number: 15, Name: "SIGTERM"}, &apiv1.Task{Pid: initPid, Tid: initPid, Comm: "sh"}, disposition
	})
}

func processExit(d time.Duration, pid int32, comm string, code, sig int32) *apiv1.Event {
	return ev(apiv1.KindProcessExited, d, func(e *apiv1.Event) {
		e.Process, e.ExitCode, e.ExitSignal = &apiv1.Process{Pid: pid, Comm: comm}, &code, &sig
	})
}

func containerExit(d time.Duration, code int32, reason string) *apiv1.Event {
	return ev(apiv1.KindContainerExited, d, func(e *apiv1.Event) {
		e.ExitCode, e.Reason, e.ExitedAt = &code, reason, timestamppb.New(t0.Add(d))
	})
}

// proc is a process as the inspection reads it; started is relative to t0.
func proc(pid int32, comm string, started time.Duration, ignored, caught, blocked []string) *apiv1.Process {
	return &apiv1.Process{Pid: pid, Comm: comm, Ppid: 1, State: "S", Started: timestamppb.New(t0.Add(started)),
		SigIgnored: ignored, SigCaught: caught, SigBlocked: blocked}
}

func inspected(d time.Duration, frozen bool, procs ...*apiv1.Process) *apiv1.Event {
	return ev(apiv1.KindContainerInspected, d, func(e *apiv1.Event) {
		e.Processes = procs
		if frozen {
			e.Frozen = &frozen
		}
	})
}

func oomOf(d time.Duration, victim int32, comm string) *apiv1.Event {
	return ev(apiv1.KindOOMKilled, d, func(e *apiv1.Event) {
		limit := uint64(32 << 20)
		e.Reason, e.Process, e.Memory = apiv1.ReasonSeenByKernel, &apiv1.Process{Pid: victim, Comm: comm}, &apiv1.Memory{LimitBytes: &limit}
	})
}

var (
	sets   = func(names ...string) []string { return names }
	initSh = func(ignored, caught, blocked []string) *apiv1.Process {
		return proc(initPid, "sh", -time.Minute, ignored, caught, blocked)
	}
	handles  = initSh(nil, sets("SIGTERM", "SIGCHLD"), nil)
	sleepy   = proc(9, "sleep", -10*time.Second, nil, nil, nil)
	oomKill  = signalAt(-10*time.Second, 9, initPid, "delivered", &apiv1.Sender{Pid: initPid, Comm: "tail", Kernel: apiv1.SenderKernel})
	killedAt = []*apiv1.Event{kill(3 * time.Second), processExit(3*time.Second, initPid, "sh", 0, 9), containerExit(3*time.Second, 137, apiv1.ReasonError)}
)

func TestCauses(t *testing.T) {
	cases := []struct {
		name      string
		events    []*apiv1.Event
		want      string
		wantFacts []string // lines the facts must include
	}{
		{
			name: "A container whose init exits on SIGTERM before any SIGKILL exited on its stop signal.",
			events: []*apiv1.Event{started(), term(0, "delivered"), delivered(time.Millisecond, "handler"),
				processExit(100*time.Millisecond, initPid, "sh", 0, 0), containerExit(100*time.Millisecond, 0, apiv1.ReasonCompleted)},
			want:      apiv1.CauseExitedOnStopSignal,
			wantFacts: []string{"stop signal SIGTERM from runc (pid 50) to sh (pid 7): result delivered", "SIGTERM delivered to sh (pid 7) 1ms later with the handler action"},
		},
		{
			name: "A PID 1 that neither ignores nor catches SIGTERM, which the kernel dropped, has no handler.",
			events: append([]*apiv1.Event{started(), term(0, "ignored"), inspected(10*time.Millisecond, false, initSh(nil, sets("SIGCHLD"), nil))},
				killedAt...),
			want: apiv1.CausePID1NoHandler,
			wantFacts: []string{"at the stop: sh (pid 7) (init) state S ignored=- caught=CHLD blocked=- pending=-",
				"SIGKILL from runc (pid 50) 3s after the stop signal", "sh (pid 7) exited by signal KILL", "container exit code 137"},
		},
		{
			name:   "A PID 1 whose SigIgn holds SIGTERM, which the kernel dropped, ignores the signal.",
			events: append([]*apiv1.Event{started(), term(0, "ignored"), inspected(10*time.Millisecond, false, initSh(sets("SIGTERM"), nil, nil))}, killedAt...),
			want:   apiv1.CauseSignalIgnored,
		},
		{
			name:   "A SIGTERM delivered with the ignore action is ignored.",
			events: append([]*apiv1.Event{started(), term(0, "delivered"), delivered(time.Millisecond, "ignored")}, killedAt...),
			want:   apiv1.CauseSignalIgnored,
		},
		{
			name:   "A SIGTERM queued and never delivered to an init that blocks it is blocked.",
			events: append([]*apiv1.Event{started(), term(0, "delivered"), inspected(10*time.Millisecond, false, initSh(nil, sets("SIGTERM"), sets("SIGTERM")))}, killedAt...),
			want:   apiv1.CauseSignalBlocked,
			wantFacts: []string{"SIGTERM never delivered to sh (pid 7) before SIGKILL",
				"at the stop: sh (pid 7) (init) state S ignored=- caught=TERM blocked=TERM pending=-"},
		},
		{
			name: "A handler that ran and was still running at SIGKILL, with only its own child started after the signal, was too slow.",
			events: append([]*apiv1.Event{started(), term(0, "delivered"), delivered(time.Millisecond, "handler"),
				inspected(300*time.Millisecond, false, handles, proc(11, "sleep", 250*time.Millisecond, nil, nil, nil))}, killedAt...),
			want:      apiv1.CauseHandlerTooSlow,
			wantFacts: []string{"at the stop: sleep (pid 11) (parent 1, started 250ms after it) state S ignored=- caught=- blocked=- pending=-"},
		},
		{
			name: "A handler whose older child finished before SIGKILL was too slow, not a signal left unforwarded.",
			events: append([]*apiv1.Event{started(), term(0, "delivered"), delivered(time.Millisecond, "handler"),
				inspected(10*time.Millisecond, false, handles, sleepy), processExit(200*time.Millisecond, 9, "sleep", 0, 0)}, killedAt...),
			want: apiv1.CauseHandlerTooSlow,
		},
		{
			name: "A child that got the forwarded SIGTERM and lived on leaves the handler too slow.",
			events: append([]*apiv1.Event{started(), term(0, "delivered"), delivered(time.Millisecond, "handler"),
				inspected(10*time.Millisecond, false, handles, sleepy),
				signalAt(20*time.Millisecond, 15, 9, "ignored", &apiv1.Sender{Pid: initPid, Comm: "sh", ContainerId: "c1"})}, killedAt...),
			want: apiv1.CauseHandlerTooSlow,
		},
		{
			name: "A shell that took SIGTERM while its child, running since before, got nothing until SIGKILL never forwarded it.",
			events: append([]*apiv1.Event{started(), term(0, "delivered"), delivered(time.Millisecond, "handler"),
				inspected(10*time.Millisecond, false, handles, sleepy)}, append(killedAt,
				// The dying init's namespace takes the child with it, after SIGKILL.
				signalAt(3*time.Second+time.Millisecond, 9, 9, "delivered", &apiv1.Sender{Pid: initPid, Comm: "sh", ContainerId: "c1", Kernel: apiv1.SenderKernel}),
				processExit(3*time.Second+time.Millisecond, 9, "sleep", 0, 9))...),
			want:      apiv1.CauseSignalNotForwarded,
			wantFacts: []string{"sleep (pid 9) ran since before the stop signal and got no signal before SIGKILL"},
		},
		{
			name:      "A container whose cgroup was frozen at the stop and that needed SIGKILL was frozen.",
			events:    append([]*apiv1.Event{started(), term(0, "delivered"), inspected(10*time.Millisecond, true, initSh(nil, sets("SIGTERM"), nil))}, killedAt...),
			want:      apiv1.CauseFrozen,
			wantFacts: []string{"its cgroup was frozen at the stop"},
		},
		{
			name: "A container whose init the OOM killer killed was OOM-killed, before any stop.",
			events: []*apiv1.Event{started(), oomKill, oomOf(-10*time.Second, initPid, "tail"),
				processExit(-10*time.Second, initPid, "tail", 0, 9), containerExit(-10*time.Second, 137, apiv1.ReasonOOMKilled)},
			want:      apiv1.CauseOOMKilled,
			wantFacts: []string{"the OOM killer killed tail (pid 7) (limit 32 MiB)", "SIGKILL from the kernel, sent as tail (pid 7) ran"},
		},
		{
			name: "A container that failed on its own after the OOM killer killed a child was OOM-killed.",
			events: []*apiv1.Event{started(), oomOf(-20*time.Second, 8, "java"),
				processExit(-10*time.Second, initPid, "sh", 1, 0), containerExit(-10*time.Second, 1, apiv1.ReasonOOMKilled)},
			want: apiv1.CauseOOMKilled,
		},
		{
			name: "A container whose init outlived a child's OOM kill and then exited on SIGTERM exited on its stop signal.",
			events: []*apiv1.Event{started(), oomOf(-20*time.Second, 8, "tail"), term(0, "delivered"), delivered(time.Millisecond, "handler"),
				processExit(10*time.Millisecond, initPid, "sh", 0, 0), containerExit(10*time.Millisecond, 0, apiv1.ReasonOOMKilled)},
			want: apiv1.CauseExitedOnStopSignal,
		},
		{
			name:      "A container whose init exited before any stop signal exited before the stop.",
			events:    []*apiv1.Event{started(), processExit(-5*time.Second, initPid, "sh", 3, 0), containerExit(-5*time.Second, 3, apiv1.ReasonError)},
			want:      apiv1.CauseExitedBeforeStop,
			wantFacts: []string{"sh (pid 7) exited with code 3", "container exit code 3"},
		},
		{
			name: "A container whose init the kernel killed as another process exited was killed by its PID namespace's teardown.",
			events: []*apiv1.Event{started(),
				signalAt(time.Second, 9, initPid, "delivered", &apiv1.Sender{Pid: 3, Comm: "pause", Kernel: apiv1.SenderKernel}),
				processExit(time.Second, initPid, "sh", 0, 9), containerExit(time.Second, 137, apiv1.ReasonError)},
			want:      apiv1.CausePIDNamespaceTeardown,
			wantFacts: []string{"SIGKILL from the kernel, sent as pause (pid 3) ran"},
		},
		{
			name:      "A container the runtime killed with no stop signal before was killed without one.",
			events:    append([]*apiv1.Event{started()}, killedAt...),
			want:      apiv1.CauseKilledWithoutStopSignal,
			wantFacts: []string{"SIGKILL from runc (pid 50) with no stop signal before it"},
		},
		{
			name:      "A dropped SIGTERM without the init's signal sets is unknown, and says why.",
			events:    append([]*apiv1.Event{started(), term(0, "ignored")}, killedAt...),
			want:      apiv1.CauseUnknown,
			wantFacts: []string{"its processes were not read at the stop"},
		},
		{
			name:   "A queued SIGTERM never delivered to an init that does not block it is unknown.",
			events: append([]*apiv1.Event{started(), term(0, "delivered"), inspected(10*time.Millisecond, false, handles)}, killedAt...),
			want:   apiv1.CauseUnknown,
		},
		{
			name:      "A container whose exit was never seen is unknown.",
			events:    []*apiv1.Event{started(), term(0, "delivered")},
			want:      apiv1.CauseUnknown,
			wantFacts: []string{"no exit of the container was seen"},
		},
		{
			name:   "A container seen only by the runtime is unknown: without the kernel an exit on its own and a graceful stop look alike.",
			events: []*apiv1.Event{started(), containerExit(time.Second, 0, apiv1.ReasonCompleted)},
			want:   apiv1.CauseUnknown,
		},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := causesOf(tc.events)
			if len(got) != 1 {
				t.Fatalf("%d causes, want 1: %v", len(got), got)
			}
			c := got[0]
			if c.Cause != tc.want || c.GetContainer().GetName() != "main" || c.GetContainer().GetId() != "c1" {
				t.Errorf("cause %q of %v, want %q for main; facts:\n  %s", c.Cause, c.Container, tc.want, strings.Join(c.Facts, "\n  "))
			}
			if _, ok := apiv1.LookupCause(c.Cause); !ok || c.Advice == "" || strings.Contains(c.Advice, "\n") {
				t.Errorf("cause %q (in the table: %v) with advice %q, want a known cause and one line", c.Cause, ok, c.Advice)
			}
			for _, f := range tc.wantFacts {
				if !slices.Contains(c.Facts, f) {
					t.Errorf("facts lack %q:\n  %s", f, strings.Join(c.Facts, "\n  "))
				}
			}
			// The collector folds in time order, the agent as events come:
			// runtime events late, the agent's inspection when its read ends.
			if late := causesOf(arrival(tc.events)); !proto.Equal(late[0], c) {
				t.Errorf("in arrival order: %v\nin time order:    %v", late[0], c)
			}
			covered[tc.want] = true
		})
	}
	for _, c := range apiv1.Causes() {
		if !covered[c.Name] {
			t.Errorf("no case gives cause %s", c.Name)
		}
	}
}

// causesOf folds events, in their order, into a pod's termination and
// returns its causes.
func causesOf(events []*apiv1.Event) []*apiv1.ContainerCause {
	term := New()
	for _, e := range events {
		term.Add(e)
	}
	return term.Causes()
}

// arrival reorders time-ordered events the way the agent can receive them:
// the kernel's in their order, the runtime's and the inspection after them
// all.
func arrival(events []*apiv1.Event) []*apiv1.Event {
	var kernel, later []*apiv1.Event
	for _, e := range events {
		switch e.Kind {
		case apiv1.KindSignalGenerated, apiv1.KindSignalDelivered, apiv1.KindProcessExited, apiv1.KindOOMKilled, apiv1.KindContainerStarted:
			kernel = append(kernel, e)
		default:
			later = append(later, e)
		}
	}
	return append(kernel, later...)
}

func TestCausesOfAPod(t *testing.T) {
	other := func(e *apiv1.Event) { e.Container = &apiv1.ContainerRef{Id: "c2", Name: "aaa"} }
	pod := New()
	for _, e := range []*apiv1.Event{started(), ev(apiv1.KindContainerStarted, -time.Minute, other, func(e *apiv1.Event) { e.Process = &apiv1.Process{Pid: 8} }),
		term(0, "ignored"), ev(apiv1.KindContainerExited, time.Second, other)} {
		pod.Add(e)
	}
	s := &apiv1.Event{}
	pod.Fill(s)
	var names []string
	for _, c := range s.Causes {
		names = append(names, c.GetContainer().GetName())
	}
	if !slices.Equal(names, []string{"aaa", "main"}) {
		t.Errorf("causes for %v, want one per container in name order", names)
	}
}
