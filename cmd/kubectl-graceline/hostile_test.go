package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
	"github.com/graceline/graceline/cmd/kubectl-graceline/list"
	"github.com/graceline/graceline/cmd/kubectl-graceline/stuck"
	"github.com/graceline/graceline/cmd/kubectl-graceline/timeline"
	"github.com/graceline/graceline/cmd/kubectl-graceline/watch"
)

// hostileUTF8 is what a workload can put in its process name, argv, exit
// reason or a path: a screen clear, a window title, a carriage return and
// a newline that start a forged row, a tab that makes a forged column,
// DEL, the C1 control CSI, and a bidirectional override.
const hostileUTF8 = "evil\x1b[2J\x1b]0;owned\x07\r\nshop  web-1  n1  graceful\tno\x7f\u009b31m\u202e\x0c\x0b"

// hostile adds bytes that are not UTF-8, which a process name may hold.
const hostile = hostileUTF8 + "\xff\xc3"

var t0 = time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)

func at(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(d)) }

func i32(v int32) *int32 { return &v }

// hostileEvents are one event of every kind whose detail prints a string
// from outside, each carrying s in every such field.
func hostileEvents(s string) []*apiv1.Event {
	pod := &apiv1.PodRef{Namespace: "shop" + s, Name: "web" + s, Uid: "uid" + s}
	ctr := &apiv1.ContainerRef{Name: "main" + s, Id: "id" + s}
	ev := func(d time.Duration, kind string, e *apiv1.Event) *apiv1.Event {
		e.Kind, e.Time, e.Node = kind, at(d), "n1"+s
		if e.Pod == nil {
			e.Pod = pod
		}
		return e
	}
	return []*apiv1.Event{
		ev(0, apiv1.KindDeleteRequested, &apiv1.Event{GracePeriodS: i32(30), Finalizers: []string{"fin" + s}, Source: apiv1.SourceAPI}),
		ev(time.Millisecond, apiv1.KindPreStopExec, &apiv1.Event{Container: ctr, Process: &apiv1.Process{Comm: s, Argv: []string{"sh" + s, "-c", "a b" + s}}}),
		ev(2*time.Millisecond, apiv1.KindSignalGenerated, &apiv1.Event{Container: ctr, Signal: &apiv1.Signal{Number: 15, Name: "SIGTERM" + s, Result: "queued" + s},
			Sender: &apiv1.Sender{Comm: s, Pid: 1, ContainerId: "cid" + s}, Target: &apiv1.Task{Comm: s, Pid: 2}}),
		ev(3*time.Millisecond, apiv1.KindSignalDelivered, &apiv1.Event{Container: ctr, Signal: &apiv1.Signal{Number: 15}, Target: &apiv1.Task{Comm: s, Pid: 2}, Disposition: "handler" + s}),
		ev(4*time.Millisecond, apiv1.KindProcessExited, &apiv1.Event{Container: ctr, Process: &apiv1.Process{Comm: s, Pid: 2}, ExitCode: i32(0)}),
		ev(5*time.Millisecond, apiv1.KindContainerExited, &apiv1.Event{Container: ctr, ExitCode: i32(1), Reason: "Error" + s}),
		ev(6*time.Millisecond, apiv1.KindCNIPluginFailed, &apiv1.Event{Process: &apiv1.Process{Comm: "bridge" + s}, SandboxId: "sb" + s, Reason: "DEL: " + s}),
		ev(7*time.Millisecond, apiv1.KindNetNSReleased, &apiv1.Event{Path: "/run/netns/" + s}),
		ev(8*time.Millisecond, apiv1.KindMountsReleased, &apiv1.Event{Path: "/var/lib/kubelet/" + s}),
		ev(9*time.Millisecond, apiv1.KindEndpointNotReady, &apiv1.Event{Service: "svc" + s, EndpointSlice: "slice" + s, Source: apiv1.SourceAPI}),
		ev(10*time.Millisecond, apiv1.KindFinalizersChanged, &apiv1.Event{Finalizers: []string{"fin" + s}, Source: apiv1.SourceAPI}),
		ev(11*time.Millisecond, apiv1.KindStuck, &apiv1.Event{BlockingPhase: apiv1.PhaseFinalizers, Evidence: []string{"first" + s, "second" + s}, Since: at(0)}),
		ev(12*time.Millisecond, apiv1.KindEventsDropped, &apiv1.Event{Drop: &apiv1.Drop{Count: 3, Reason: "full" + s}}),
		ev(13*time.Millisecond, apiv1.KindPodDeleted, &apiv1.Event{Reason: "approx" + s, Source: apiv1.SourceAPI}),
		ev(14*time.Millisecond, "unknown_kind"+s, &apiv1.Event{Container: ctr, Reason: s, Path: s}),
	}
}

// hostileSummary is a stuck termination summary with s in every string.
func hostileSummary(s string) *apiv1.Event {
	killed := true
	return &apiv1.Event{
		Kind: apiv1.KindTerminationSummary, Time: at(time.Second), Node: "n1" + s,
		Pod:     &apiv1.PodRef{Namespace: "shop" + s, Name: "web" + s, Uid: "uid" + s},
		Verdict: apiv1.VerdictStuck, Killed: &killed, GracePeriodS: i32(30),
		ExitCodes:     map[string]int32{"main" + s: 137, "side" + s: 0},
		BlockingPhase: "phase" + s, Evidence: []string{"evidence" + s}, Finalizers: []string{"fin" + s},
		ApiToNode:   durationpb.New(time.Millisecond),
		EndpointLag: durationpb.New(-time.Second),
		Phases:      []*apiv1.Phase{{Name: "stop_signal" + s, Start: at(0), End: at(time.Second)}},
	}
}

// checkTerminal fails unless out is safe on a terminal, with exactly
// lines lines: valid UTF-8, no control character but the newline that
// ends each line, and none of the runes that reorder text.
func checkTerminal(t *testing.T, out string, lines int) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("output is not valid UTF-8: %q", out)
	}
	for i, r := range out {
		bad := (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || r == 0x2028 || r == 0x2029
		if bad {
			t.Errorf("output holds %U at byte %d: %q", r, i, out)
			return
		}
	}
	if got := strings.Count(out, "\n"); got != lines || !strings.HasSuffix(out, "\n") {
		t.Errorf("output has %d lines, want %d:\n%s", got, lines, out)
	}
}

func TestPrintersEscapeWorkloadStrings(t *testing.T) {
	events := hostileEvents(hostile)
	summary := hostileSummary(hostile)
	stuckReports := []*apiv1.Event{events[11], hostileSummary(hostile)}
	tests := []struct {
		name   string
		render func(*bytes.Buffer) error
		// lines is what the rows make: a newline inside a field must not
		// add one.
		lines int
	}{
		{
			name:   "The timeline prints the header, the verdict, the cluster line and one line per event.",
			render: func(b *bytes.Buffer) error { return timeline.Render(b, events, summary, true) },
			lines:  3 + len(events),
		},
		{
			name: "The list prints its header and one line per summary.",
			render: func(b *bytes.Buffer) error {
				return list.Render(b, []*apiv1.Event{summary, summary}, t0.Add(time.Hour))
			},
			lines: 1 + 2,
		},
		{
			// Each block: the pod, the blocking phase, the finalizers, one
			// line per piece of evidence, and a hint for a known phase;
			// a blank line between blocks.
			name:   "Stuck prints one block per pod, each line counted.",
			render: func(b *bytes.Buffer) error { return stuck.Render(b, stuckReports, t0.Add(time.Hour)) },
			lines:  (1 + 1 + 0 + 2 + 1) + 1 + (1 + 1 + 1 + 1 + 0),
		},
		{
			name: "Watch prints one line per event.",
			render: func(b *bytes.Buffer) error {
				for _, e := range append(events, summary) {
					b.WriteString(watch.Line(e) + "\n")
				}
				return nil
			},
			lines: len(events) + 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.render(&b); err != nil {
				t.Fatal(err)
			}
			checkTerminal(t, b.String(), tt.lines)
			if !strings.Contains(b.String(), `evil\x1b[2J`) {
				t.Errorf("output does not show the escaped string:\n%s", b.String())
			}
		})
	}
}

// TestJSONOutputIsSafe: -o json prints the events as stored, one per line;
// JSON escapes the C0 controls, and DEL and the C1 controls are escaped
// too, without changing what the JSON decodes to.
func TestJSONOutputIsSafe(t *testing.T) {
	events := append(hostileEvents(hostileUTF8), hostileSummary(hostileUTF8))
	var b bytes.Buffer
	if err := conn.WriteJSONLines(&b, events); err != nil {
		t.Fatal(err)
	}
	checkTerminal(t, b.String(), len(events))
	for i, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		var got apiv1.Event
		if err := apiv1.UnmarshalJSONLine([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if !proto.Equal(&got, events[i]) {
			t.Errorf("line %d decodes to %v, want %v", i, &got, events[i])
		}
	}
}
