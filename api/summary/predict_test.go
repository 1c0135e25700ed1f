package summary

import (
	"google.golang.org/protobuf/proto"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// readAt is when the crafted readiness reads are made: a minute after the
// init started (see initSh).
var readAt = t0

func TestPredict(t *testing.T) {
	// A loop's sleep, started just before the read, and a background job
	// (SIGINT and SIGQUIT ignored, as a shell starts one).
	fresh := proc(12, "sleep", -200*time.Millisecond, nil, nil, nil)
	background := proc(13, "worker", -time.Minute, sets("SIGINT", "SIGQUIT"), nil, nil)
	cases := []struct {
		name        string
		r           Readiness
		wantOutcome string
		wantCause   string
		wantAdvice  string // a part the advice must hold
	}{
		{
			name:        "A shell PID 1 without a trap has no handler, and will be killed.",
			r:           Readiness{Init: initSh(nil, sets("SIGCHLD"), nil), Children: []*apiv1.Process{fresh}},
			wantOutcome: OutcomeKilled, wantCause: apiv1.CausePID1NoHandler, wantAdvice: "exec the worker",
		},
		{
			name:        "A shell PID 1 read as its namespace's pid 1 is the same.",
			r:           Readiness{Init: nsPid(initSh(nil, sets("SIGCHLD"), nil), 1)},
			wantOutcome: OutcomeKilled, wantCause: apiv1.CausePID1NoHandler,
		},
		{
			name:        "A shell without a trap that is not its PID namespace's init, in a pod that shares one, is ended by the signal.",
			r:           Readiness{Init: nsPid(initSh(nil, sets("SIGCHLD"), nil), 7), Children: []*apiv1.Process{fresh}},
			wantOutcome: OutcomeGraceful, wantCause: apiv1.CauseExitedOnStopSignal, wantAdvice: "not PID 1 of its namespace",
		},
		{
			name:        "An init that ignores the signal is killed, PID 1 of its namespace or not.",
			r:           Readiness{Init: nsPid(initSh(sets("SIGTERM"), sets("SIGCHLD"), nil), 7)},
			wantOutcome: OutcomeKilled, wantCause: apiv1.CauseSignalIgnored,
		},
		{
			name:        "trap '' TERM ignores the signal, and will be killed.",
			r:           Readiness{Init: initSh(sets("SIGTERM"), sets("SIGCHLD"), nil)},
			wantOutcome: OutcomeKilled, wantCause: apiv1.CauseSignalIgnored, wantAdvice: "ignores SIGTERM",
		},
		{
			name:        "An init that blocks SIGTERM, even with a handler, will be killed.",
			r:           Readiness{Init: initSh(nil, sets("SIGTERM"), sets("SIGTERM"))},
			wantOutcome: OutcomeKilled, wantCause: apiv1.CauseSignalBlocked, wantAdvice: "blocks SIGTERM",
		},
		{
			name:        "A handler in a loop of short sleeps exits on its signal.",
			r:           Readiness{Init: handles, Children: []*apiv1.Process{fresh}},
			wantOutcome: OutcomeGraceful, wantCause: apiv1.CauseExitedOnStopSignal, wantAdvice: "nothing to change",
		},
		{
			name:        "A shell with a trap waiting on a foreground child never forwards the signal.",
			r:           Readiness{Init: handles, Children: []*apiv1.Process{fresh, sleepy}},
			wantOutcome: OutcomeKilled, wantCause: apiv1.CauseSignalNotForwarded, wantAdvice: "never passed it to sleep (pid 9)",
		},
		{
			name:        "A shell with a trap and a background job runs its trap at once.",
			r:           Readiness{Init: handles, Children: []*apiv1.Process{background}},
			wantOutcome: OutcomeGraceful, wantCause: apiv1.CauseExitedOnStopSignal,
		},
		{
			name:        "A program other than a shell with a handler and a long-lived child handles it itself.",
			r:           Readiness{Init: proc(initPid, "nginx", -time.Minute, nil, sets("SIGTERM"), nil), Children: []*apiv1.Process{sleepy}},
			wantOutcome: OutcomeGraceful, wantCause: apiv1.CauseExitedOnStopSignal,
		},
		{
			name:        "A handler whose last termination was too slow is predicted too slow again.",
			r:           Readiness{Init: handles, LastCause: apiv1.CauseHandlerTooSlow},
			wantOutcome: OutcomeKilled, wantCause: apiv1.CauseHandlerTooSlow, wantAdvice: "outlasted the grace period",
		},
		{
			name:        "An image whose STOPSIGNAL (SIGUSR1) the init handles exits on it, though it has no SIGTERM handler.",
			r:           Readiness{StopSignal: 10, Init: initSh(nil, sets("SIGUSR1"), nil)},
			wantOutcome: OutcomeGraceful, wantCause: apiv1.CauseExitedOnStopSignal, wantAdvice: "handles SIGUSR1",
		},
		{
			name:        "An init that handles SIGTERM but not the image's STOPSIGNAL (SIGQUIT) has no handler for it.",
			r:           Readiness{StopSignal: 3, Init: handles},
			wantOutcome: OutcomeKilled, wantCause: apiv1.CausePID1NoHandler, wantAdvice: "without a SIGQUIT handler",
		},
		{
			name:        "A container whose init could not be read is unknown.",
			r:           Readiness{},
			wantOutcome: OutcomeUnknown, wantCause: apiv1.CauseUnknown,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.At = readAt
			got := Predict(tc.r)
			if got.Outcome != tc.wantOutcome || got.Cause != tc.wantCause {
				t.Errorf("predicted %s (%s), want %s (%s); facts:\n  %s", got.Outcome, got.Cause, tc.wantOutcome, tc.wantCause, strings.Join(got.Facts, "\n  "))
			}
			if _, ok := apiv1.LookupCause(got.Cause); !ok || got.Advice == "" || strings.Contains(got.Advice, "\n") || !strings.Contains(got.Advice, tc.wantAdvice) {
				t.Errorf("cause %q (in the table: %v) with advice %q, want a known cause and one line holding %q", got.Cause, ok, got.Advice, tc.wantAdvice)
			}
		})
	}
}

// TestPredictionAgreesWithCause holds each prediction that the init's
// signal sets alone decide against the cause a termination of that same
// init gets afterwards: the two read the sets with one rule.
func TestPredictionAgreesWithCause(t *testing.T) {
	cases := []struct {
		name   string
		init   *apiv1.Process
		result string // the kernel's result for the SIGTERM at generation
	}{
		{"An init without a handler is predicted and found without one.", initSh(nil, sets("SIGCHLD"), nil), "ignored"},
		{"An init that ignores SIGTERM is predicted and found to ignore it.", initSh(sets("SIGTERM"), nil, nil), "ignored"},
		{"An init that blocks SIGTERM is predicted and found to block it.", initSh(nil, sets("SIGTERM"), sets("SIGTERM")), "delivered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			predicted := Predict(Readiness{Init: tc.init, At: readAt})
			events := append([]*apiv1.Event{started(), term(0, tc.result), inspected(10*time.Millisecond, false, tc.init)}, killedAt...)
			found := causesOf(events)
			if len(found) != 1 || found[0].Cause != predicted.Cause {
				t.Errorf("predicted %s, found %v", predicted.Cause, found)
			}
			if found[0].Advice != predicted.Advice {
				t.Errorf("advice differs:\npredicted %q\nfound     %q", predicted.Advice, found[0].Advice)
			}
		})
	}
}

func TestSameState(t *testing.T) {
	base := Predict(Readiness{Init: handles, Children: []*apiv1.Process{sleepy}, At: readAt})
	cases := []struct {
		name string
		b    *apiv1.Prediction
		want bool
	}{
		{"The same read again is the same state.", Predict(Readiness{Init: handles, Children: []*apiv1.Process{sleepy}, At: readAt.Add(time.Minute)}), true},
		{"A loop's fresh sleep beside it changes nothing.", Predict(Readiness{Init: handles, Children: []*apiv1.Process{sleepy, proc(20, "sleep", -time.Millisecond, nil, nil, nil)}, At: readAt}), true},
		{"The worker gone changes the state.", Predict(Readiness{Init: handles, At: readAt}), false},
		{"A trap '' TERM set since changes the state.", Predict(Readiness{Init: initSh(sets("SIGTERM"), nil, nil), Children: []*apiv1.Process{sleepy}, At: readAt}), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := SameState(base, tc.b); got != tc.want {
				t.Errorf("SameState = %v, want %v:\n%v\n%v", got, tc.want, base, tc.b)
			}
		})
	}
}

func TestPredictFrom(t *testing.T) {
	handler := initSh(nil, sets("SIGTERM", "SIGCHLD"), nil)
	read := &apiv1.Event{Kind: apiv1.KindTerminationReadiness, Time: timestamppb.New(readAt), Signal: &apiv1.Signal{Number: 15},
		Processes: []*apiv1.Process{handler}, Prediction: &apiv1.Prediction{Outcome: OutcomeGraceful, Cause: apiv1.CauseExitedOnStopSignal}}
	cases := []struct {
		name      string
		e         *apiv1.Event
		lastCause string
		wantCause string
	}{
		{"A handler without history is predicted to exit.", read, "", apiv1.CauseExitedOnStopSignal},
		{"A handler found too slow last time is predicted to be killed.", read, apiv1.CauseHandlerTooSlow, apiv1.CauseHandlerTooSlow},
		{"Another last cause changes nothing for a handler.", read, apiv1.CauseSignalIgnored, apiv1.CauseExitedOnStopSignal},
		{"A readiness without processes keeps its own prediction.", &apiv1.Event{Prediction: &apiv1.Prediction{Cause: apiv1.CauseUnknown}}, apiv1.CauseHandlerTooSlow, apiv1.CauseUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := PredictFrom(tc.e, tc.lastCause).GetCause(); got != tc.wantCause {
				t.Errorf("cause %s, want %s", got, tc.wantCause)
			}
		})
	}
}

// nsPid is p read as pid n of its own PID namespace.
func nsPid(p *apiv1.Process, n int32) *apiv1.Process {
	c := proto.Clone(p).(*apiv1.Process)
	c.NsPid = n
	return c
}
