package watch

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func ev(ns, name, node string) *apiv1.Event {
	return &apiv1.Event{Kind: apiv1.KindContainerStarted, Node: node, Pod: &apiv1.PodRef{Namespace: ns, Name: name}}
}

func TestFilter(t *testing.T) {
	cases := []struct {
		name   string
		filter Filter
		event  *apiv1.Event
		want   bool
	}{
		{"an empty filter matches everything", Filter{}, ev("a", "b", "c"), true},
		{"a namespace filter matches its namespace", Filter{Namespace: "a"}, ev("a", "b", "c"), true},
		{"a namespace filter rejects others", Filter{Namespace: "x"}, ev("a", "b", "c"), false},
		{"a node filter rejects other nodes", Filter{Node: "x"}, ev("a", "b", "c"), false},
		{"a pod filter matches the pod", Filter{Namespace: "a", Name: "b"}, ev("a", "b", "c"), true},
		{"a pod filter rejects events without a pod", Filter{Name: "b"}, &apiv1.Event{Kind: apiv1.KindEventsDropped}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.filter.Match(tc.event); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSlowWatcherIsCutOffWithoutBlocking(t *testing.T) {
	h := NewHub(prometheus.NewRegistry())
	slow, cancelSlow := h.Subscribe(Filter{})
	defer cancelSlow()
	fast, cancelFast := h.Subscribe(Filter{Namespace: "a"})
	defer cancelFast()
	for range buffer + 1 {
		h.Publish([]*apiv1.Event{ev("b", "p", "n")}) // only slow matches
	}
	n := 0
	for range slow.Events {
		n++
	}
	if n != buffer || !slow.Overflowed() {
		t.Errorf("slow watcher got %d events, overflowed %v; want %d, true", n, slow.Overflowed(), buffer)
	}
	if testutil.ToFloat64(h.cutOff) != 1 || testutil.ToFloat64(h.watchers) != 1 {
		t.Errorf("cut off %v, watchers %v", testutil.ToFloat64(h.cutOff), testutil.ToFloat64(h.watchers))
	}
	h.Publish([]*apiv1.Event{ev("a", "p", "n")})
	if e := <-fast.Events; e.Pod.Namespace != "a" || fast.Overflowed() {
		t.Errorf("fast watcher got %v", e)
	}
}
