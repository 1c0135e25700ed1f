package kube

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// recorder collects what the tracker emits, as "kind key" lines.
type recorder struct{ lines []string }

func (r *recorder) emit(e *apiv1.Event, key string) {
	line := e.Kind + " " + key
	if len(e.Finalizers) > 0 {
		line += " finalizers=" + strings.Join(e.Finalizers, ",")
	}
	if e.Service != "" {
		line += " service=" + e.Service
	}
	r.lines = append(r.lines, line)
}

func (r *recorder) take() string {
	s := strings.Join(r.lines, "; ")
	r.lines = nil
	return s
}

func testPod(deadline *time.Time, grace int64, finalizers ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: types.UID("u1"), Finalizers: finalizers},
		Spec:       corev1.PodSpec{NodeName: "n1"},
	}
	if deadline != nil {
		ts := metav1.NewTime(*deadline)
		p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &ts, &grace
	}
	return p
}

func TestTrackerPodTransitions(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	deadline, shortened := t0.Add(30*time.Second), t0.Add(5*time.Second)
	type step struct {
		name string
		do   func(tr *tracker)
		want string
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{
			name: "a graceful deletion held by a finalizer",
			steps: []step{
				{"a running pod is not news", func(tr *tracker) { tr.podSeen(testPod(nil, 0), false) }, ""},
				{"an endpoint change before the pod watch saw the deletion is kept", func(tr *tracker) {
					tr.endpoints.change("u1", endpointChange{apiv1.KindEndpointNotReady, "ns/web", "web-1", t0})
				}, ""},
				{"the delete request, then the kept endpoint change", func(tr *tracker) { tr.podSeen(testPod(&deadline, 30, "a/hold"), true) },
					"delete_requested u1/delete_requested finalizers=a/hold; endpoint_not_ready u1/endpoint_not_ready/ns/web service=ns/web"},
				{"a resync or relist of the same object is not news", func(tr *tracker) { tr.podSeen(testPod(&deadline, 30, "a/hold"), false) }, ""},
				{"a shortened deadline is not a new request", func(tr *tracker) { tr.podSeen(testPod(&shortened, 0, "a/hold"), false) }, ""},
				{"another finalizer", func(tr *tracker) { tr.podSeen(testPod(&shortened, 0, "a/hold", "b/hold"), false) },
					"finalizers_changed u1/finalizers_changed/a/hold,b/hold finalizers=a/hold,b/hold"},
				{"the last finalizers removed in the deleting write", func(tr *tracker) { tr.podGone(testPod(&shortened, 0), "") },
					"finalizers_changed u1/finalizers_changed/; pod_deleted u1/pod_deleted"},
				{"a repeated deletion is not news", func(tr *tracker) { tr.podGone(testPod(&shortened, 0), "") }, ""},
			},
		},
		{
			name: "deleted without a grace period",
			steps: []step{
				{"the deletion alone gives both ends", func(tr *tracker) { tr.podGone(testPod(&deadline, 0), "") },
					"delete_requested u1/delete_requested; pod_deleted u1/pod_deleted"},
			},
		},
		{
			name: "restored after a restart while held, deleted while down",
			steps: []step{
				{"restored from the store", func(tr *tracker) {
					tr.restore(store.Pod{UID: "u1", Namespace: "ns", Name: "p", Node: "n1", DeleteNs: t0.UnixNano()}, []*apiv1.Event{
						{Kind: apiv1.KindDeleteRequested, Finalizers: []string{"a/hold"}},
						{Kind: apiv1.KindEndpointNotReady, Service: "ns/web"},
					})
				}, ""},
				{"the relist no longer lists it", func(tr *tracker) { tr.reconcile(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})) },
					"finalizers_changed u1/finalizers_changed/; pod_deleted u1/pod_deleted"},
			},
		},
		{
			name: "restored after a restart, still there",
			steps: []step{
				{"restored from the store", func(tr *tracker) {
					tr.restore(store.Pod{UID: "u1", Namespace: "ns", Name: "p", Node: "n1", DeleteNs: t0.UnixNano()}, []*apiv1.Event{
						{Kind: apiv1.KindDeleteRequested, Finalizers: []string{"a/hold"}},
					})
				}, ""},
				{"the relist lists it as before", func(tr *tracker) {
					idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
					p := testPod(&deadline, 30, "a/hold")
					idx.Add(p)
					tr.podSeen(p, false)
					tr.reconcile(idx)
				}, ""},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			tr := newTracker(rec.emit, func() time.Time { return t0 })
			for i, s := range tc.steps {
				s.do(tr)
				if got := rec.take(); got != s.want {
					t.Errorf("step %d, %s:\n got %q\nwant %q", i, s.name, got, s.want)
				}
			}
		})
	}
}

// Endpoint changes for a pod the pod watch never reports deleting are kept
// only a while, and only a few.
func TestTrackerPendingBounded(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var rec recorder
	tr := newTracker(rec.emit, func() time.Time { return t0 })
	for i := range 2 * pendingLimit {
		tr.endpoints.change("u1", endpointChange{apiv1.KindEndpointRemoved, fmt.Sprintf("ns/s%d", i), "", t0})
	}
	if n := len(tr.endpoints.pending["u1"]); n != pendingLimit {
		t.Errorf("%d changes kept, want %d", n, pendingLimit)
	}
	tr.prune(t0.Add(pendingAge + time.Second))
	if len(tr.endpoints.pending) != 0 {
		t.Errorf("changes kept past %s", pendingAge)
	}
	if len(rec.lines) != 0 {
		t.Errorf("emitted for a pod never seen deleting: %q", rec.lines)
	}
}
