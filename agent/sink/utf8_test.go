package sink

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/agent/spool"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/internal/pacer"
)

// TestInvalidUTF8IsRepairedNotDropped sends events whose workload strings
// are not valid UTF-8 through both outputs, as the agent does, and checks
// that each reaches the JSON output and the spool repaired instead of being
// dropped: protobuf refuses to encode such strings.
func TestInvalidUTF8IsRepairedNotDropped(t *testing.T) {
	now := timestamppb.New(time.Now())
	cases := []struct {
		name  string
		event *apiv1.Event
		// get reads the repaired string back.
		get  func(*apiv1.Event) string
		want string
	}{
		{
			name:  "a process name with bytes 0xff 0xfe",
			event: &apiv1.Event{Kind: apiv1.KindProcessExited, Time: now, Node: "n", Process: &apiv1.Process{Pid: 7, Comm: "sh\xff\xfe"}},
			get:   func(e *apiv1.Event) string { return e.GetProcess().GetComm() },
			want:  "sh\uFFFD",
		},
		{
			name:  "an argument of an exec",
			event: &apiv1.Event{Kind: apiv1.KindExec, Time: now, Node: "n", Process: &apiv1.Process{Pid: 7, Comm: "sh", Argv: []string{"sh", "-c", "\xc3\x28"}}},
			get:   func(e *apiv1.Event) string { return e.GetProcess().GetArgv()[2] },
			want:  "\uFFFD(",
		},
		{
			name:  "a CNI plugin's failure reason",
			event: &apiv1.Event{Kind: apiv1.KindCNIPluginFailed, Time: now, Node: "n", Reason: "DEL: \xfe failed"},
			get:   func(e *apiv1.Event) string { return e.GetReason() },
			want:  "DEL: \uFFFD failed",
		},
		{
			name:  "a container name used as a key of exit codes",
			event: &apiv1.Event{Kind: apiv1.KindTerminationSummary, Time: now, Node: "n", ExitCodes: map[string]int32{"app\xff": 137}},
			get: func(e *apiv1.Event) string {
				for k := range e.GetExitCodes() {
					return k
				}
				return ""
			},
			want: "app\uFFFD",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			reg := prometheus.NewRegistry()
			m := testMetrics(reg)
			sp, err := spool.Open(t.TempDir(), spool.Options{Node: "n"}, reg, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			var out bytes.Buffer
			f := &Sinks{events: m.Events, outputs: []output{
				newJSONLines(&out, m.Dropped, m.Repaired, quiet),
				&delivery{spool: sp, dropped: m.Dropped, log: quiet, sync: pacer.New(time.Second)},
			}}
			original := proto.Clone(tc.event).(*apiv1.Event)
			f.Emit(tc.event)

			line := new(apiv1.Event)
			if err := apiv1.UnmarshalJSONLine(bytes.TrimSpace(out.Bytes()), line); err != nil {
				t.Fatalf("JSON output %q: %v", out.String(), err)
			}
			if got := tc.get(line); got != tc.want {
				t.Errorf("JSON output has %q, want %q", got, tc.want)
			}
			done, cancel := context.WithCancel(context.Background())
			cancel()
			b, err := sp.Read(done, 10, 1<<20)
			if err != nil || len(b.Records) != 1 {
				t.Fatalf("spool holds %d records (%v), want the event", len(b.Records), err)
			}
			spooled := new(apiv1.Event)
			if err := proto.Unmarshal(b.Records[0].Event, spooled); err != nil {
				t.Fatal(err)
			}
			if got := tc.get(spooled); got != tc.want {
				t.Errorf("spool has %q, want %q", got, tc.want)
			}
			for _, reason := range []string{"encode", "spool"} {
				if n := testutil.ToFloat64(m.Dropped.WithLabelValues(reason)); n != 0 {
					t.Errorf("%v events dropped{%s}", n, reason)
				}
			}
			if n := testutil.ToFloat64(m.Repaired); n != 1 {
				t.Errorf("output repaired %v strings, want 1", n)
			}
			if !proto.Equal(tc.event, original) {
				t.Error("the event shared by the outputs was changed")
			}
		})
	}
}

// testMetrics are the sinks' metrics as the agent creates them.
func testMetrics(reg prometheus.Registerer) Metrics {
	m := Metrics{
		Events:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "events_total"}, []string{"kind"}),
		Dropped:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "events_dropped_total"}, []string{"reason"}),
		Repaired: prometheus.NewCounter(prometheus.CounterOpts{Name: "strings_repaired_total"}),
	}
	reg.MustRegister(m.Events, m.Dropped, m.Repaired)
	return m
}
