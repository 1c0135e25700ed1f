package outcome

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/durationpb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// joined is the cluster side's final summary of ns/name: the node's summary
// with the endpoint lag the collector joined in.
func joined(ns, name string, lag time.Duration) *apiv1.Event {
	s := summaryOf(ns, name, apiv1.VerdictGraceful, apiv1.CauseExitedOnStopSignal)
	s.Source = apiv1.SourceAPI
	risk := lag < 0
	s.EndpointLag, s.TrafficRisk = durationpb.New(lag), &risk
	return s
}

func TestTheClusterSidesSummaryCarriesTheEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name      string
		events    []*apiv1.Event
		wantTerms float64
		wantLags  uint64
		wantRisk  float64
	}{
		{"a joined summary counts the termination and its lag", []*apiv1.Event{joined("shop", "web", 2*time.Second)}, 1, 1, 0},
		{"a stop signal before the endpoints went is a traffic risk", []*apiv1.Event{joined("shop", "web", -time.Second)}, 1, 1, 1},
		{"a summary without endpoints has no lag", []*apiv1.Event{func() *apiv1.Event {
			s := joined("shop", "web", 0)
			s.EndpointLag, s.TrafficRisk = nil, nil
			return s
		}()}, 1, 0, 0},
		{"an agent's summary is not counted beside the joined one", []*apiv1.Event{
			summaryOf("shop", "web", apiv1.VerdictGraceful, apiv1.CauseExitedOnStopSignal), joined("shop", "web", time.Second),
		}, 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Config{FromCluster: true}, openStore(t), prometheus.NewRegistry(), quiet)
			r.Tap(nil).Publish(tc.events)
			if got := testutil.ToFloat64(r.m.terminations.WithLabelValues("shop", apiv1.VerdictGraceful, apiv1.CauseExitedOnStopSignal)); got != tc.wantTerms {
				t.Errorf("terminations = %v, want %v", got, tc.wantTerms)
			}
			if got := histogramCount(t, r.m.endpointLag); got != tc.wantLags {
				t.Errorf("endpoint lag count = %d, want %d", got, tc.wantLags)
			}
			if got := testutil.ToFloat64(r.m.trafficRisk.WithLabelValues("shop")); got != tc.wantRisk {
				t.Errorf("traffic risk = %v, want %v", got, tc.wantRisk)
			}
		})
	}
}

func TestNamespacesPastTheCapShareOneSeriesAndAreCounted(t *testing.T) {
	for _, tc := range []struct {
		name         string
		max          int
		namespaces   []string
		want         map[string]float64
		wantOverflow float64
	}{
		{"namespaces within the cap keep their own series", 2, []string{"a", "b", "a"}, map[string]float64{"a": 2, "b": 1}, 0},
		{"a namespace past the cap is counted as _other", 2, []string{"a", "b", "c", "d", "a"}, map[string]float64{"a": 2, "b": 1, OverflowNamespace: 2}, 2},
		{"a summary without a namespace is counted as _none, not against the cap", 1, []string{"", "a"}, map[string]float64{NoNamespace: 1, "a": 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Config{MaxNamespaces: tc.max}, openStore(t), prometheus.NewRegistry(), quiet)
			for i, ns := range tc.namespaces {
				s := summaryOf(ns, "p", apiv1.VerdictKilled, apiv1.CauseOOMKilled)
				s.Pod.Uid = string(rune('a' + i))
				r.Record(s)
			}
			for ns, want := range tc.want {
				if got := testutil.ToFloat64(r.m.terminations.WithLabelValues(ns, apiv1.VerdictKilled, apiv1.CauseOOMKilled)); got != want {
					t.Errorf("terminations{namespace=%q} = %v, want %v", ns, got, want)
				}
			}
			if got := testutil.CollectAndCount(r.m.terminations); got != len(tc.want) {
				t.Errorf("%d series, want %d", got, len(tc.want))
			}
			if got := testutil.ToFloat64(r.m.overflow); got != tc.wantOverflow {
				t.Errorf("overflow = %v, want %v", got, tc.wantOverflow)
			}
		})
	}
}

func TestValuesOutsideTheClosedSetsNeverBecomeLabels(t *testing.T) {
	s := summaryOf("shop", "web", "exploded", "made_up")
	s.Phases = append(s.Phases, phase("warp_drive", 0, time.Second), phase(apiv1.PhasePreStop, time.Second, 0))
	r := New(Config{}, openStore(t), prometheus.NewRegistry(), quiet)
	r.Record(s)
	if got := testutil.ToFloat64(r.m.terminations.WithLabelValues("shop", labelUnknown, apiv1.CauseUnknown)); got != 1 {
		t.Errorf("terminations{verdict=unknown,cause=unknown} = %v, want 1", got)
	}
	if got := histogramCount(t, r.m.phase.WithLabelValues(labelOther).(prometheus.Histogram)); got != 1 {
		t.Errorf("phase{other} count = %d, want 1", got)
	}
	if got := histogramCount(t, r.m.phase.WithLabelValues(apiv1.PhasePreStop).(prometheus.Histogram)); got != 0 {
		t.Errorf("a phase that ends before it starts was observed %d times", got)
	}
}
