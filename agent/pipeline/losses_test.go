package pipeline

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestLossesReport(t *testing.T) {
	now := time.Unix(3000, 0)
	cases := []struct {
		name string
		// rounds of reporting: losses added before each, and whether the
		// sink takes the reports of that round.
		rounds []lossRound
		want   map[string]uint64 // total reported, by reason
	}{
		{
			name:   "each reason owed is reported once with its count",
			rounds: []lossRound{{add: map[string]uint64{apiv1.DropReasonAgentQueueFull: 3, apiv1.DropReasonSpoolBufferFull: 2}, takes: true}, {takes: true}},
			want:   map[string]uint64{apiv1.DropReasonAgentQueueFull: 3, apiv1.DropReasonSpoolBufferFull: 2},
		},
		{
			name: "a report the full sink refuses stays owed and is added to the next",
			rounds: []lossRound{
				{add: map[string]uint64{apiv1.DropReasonAgentQueueFull: 3}},
				{add: map[string]uint64{apiv1.DropReasonAgentQueueFull: 4}, takes: true},
			},
			want: map[string]uint64{apiv1.DropReasonAgentQueueFull: 7},
		},
		{
			name:   "nothing lost reports nothing",
			rounds: []lossRound{{takes: true}},
			want:   map[string]uint64{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLosses()
			got := map[string]uint64{}
			for _, r := range tc.rounds {
				for reason, n := range r.add {
					l.Add(reason, n)
				}
				l.Report("n", now, func(e *apiv1.Event) bool {
					if e.Kind != apiv1.KindEventsDropped || e.Node != "n" || !e.Time.AsTime().Equal(now) {
						t.Errorf("report %v, want an events_dropped event of node n at %v", e, now)
					}
					if r.takes {
						got[e.Drop.Reason] += e.Drop.Count
					}
					return r.takes
				})
			}
			if len(got) != len(tc.want) {
				t.Errorf("reported %v, want %v", got, tc.want)
			}
			for reason, n := range tc.want {
				if got[reason] != n {
					t.Errorf("reported %d for %s, want %d", got[reason], reason, n)
				}
			}
		})
	}
}

type lossRound struct {
	add   map[string]uint64
	takes bool
}

func TestDropsAreOwedToTheCollector(t *testing.T) {
	cases := []struct {
		name     string
		publish  int
		wantOwed uint64
	}{
		{name: "events past a full queue are owed as agent_queue_full", publish: 5, wantOwed: 3},
		{name: "a queue with room owes nothing", publish: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLosses()
			q := New(2, NewMetrics(prometheus.NewRegistry()), l)
			for range tc.publish {
				q.Events(SourceKernel)(&apiv1.Event{Kind: apiv1.KindExec})
			}
			// A change lost is not an event lost.
			q.Publish(Item{Source: SourceRuntime, Sandbox: nil})
			var owed uint64
			l.Report("n", time.Now(), func(e *apiv1.Event) bool {
				if e.Drop.Reason != apiv1.DropReasonAgentQueueFull {
					t.Errorf("owed for %s", e.Drop.Reason)
				}
				owed += e.Drop.Count
				return true
			})
			if owed != tc.wantOwed {
				t.Errorf("owed %d, want %d", owed, tc.wantOwed)
			}
		})
	}
}

func TestReportedDropsAreCountedAndOwed(t *testing.T) {
	l := NewLosses()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c"})
	r := Reported{Metric: c, Losses: l, Reason: apiv1.DropReasonSpoolBufferFull}
	r.Inc()
	r.Add(2)
	if v := testutil.ToFloat64(c); v != 3 {
		t.Errorf("metric = %v, want 3", v)
	}
	var owed uint64
	l.Report("n", time.Now(), func(e *apiv1.Event) bool { owed += e.Drop.Count; return true })
	if owed != 3 {
		t.Errorf("owed %d, want 3", owed)
	}
}
