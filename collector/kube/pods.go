package kube

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	corev1 "k8s.io/api/core/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// deletion is what the tracker knows of one pod on its way out.
type deletion struct {
	ref        *apiv1.PodRef
	node       string
	requested  time.Time // the delete request, as recorded
	finalizers []string
	deleted    time.Time // the object gone; zero while it exists
	finalized  time.Time // the final summary stored; kept a while for late endpoint events
	lastStuck  time.Time
	// offServices are the Services whose endpoints stopped offering the pod,
	// as recorded: a restarted collector checks that they are gone.
	offServices map[string]bool
}

// emitFunc hands an event and its key to the writer.
type emitFunc func(e *apiv1.Event, key string)

// tracker turns informer notifications into cluster events. Its handlers
// run on the informers' goroutines, so one mutex guards the state.
type tracker struct {
	mu        sync.Mutex
	emit      emitFunc
	now       func() time.Time
	deleting  map[string]*deletion // by pod UID
	endpoints endpointState
	nodes     coreinformers.NodeInformer
	// owners are the caches the initiator is read from; nil reads only the
	// pod itself.
	owners *owners
}

func newTracker(emit emitFunc, now func() time.Time) *tracker {
	t := &tracker{emit: emit, now: now, deleting: map[string]*deletion{}}
	t.endpoints = newEndpointState(t)
	return t
}

// attach registers the handlers on the informers.
func (t *tracker) attach(pods coreinformers.PodInformer, slices discoveryinformers.EndpointSliceInformer, nodes coreinformers.NodeInformer) error {
	t.nodes = nodes
	if err := pods.Informer().SetTransform(trimPod); err != nil {
		return fmt.Errorf("set pod transform: %w", err)
	}
	if err := nodes.Informer().SetTransform(trimNode); err != nil {
		return fmt.Errorf("set node transform: %w", err)
	}
	if err := slices.Informer().SetTransform(trimObjectMeta); err != nil {
		return fmt.Errorf("set endpointslice transform: %w", err)
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, _ bool) {
			if p, ok := obj.(*corev1.Pod); ok {
				t.podSeen(p, false)
			}
		},
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*corev1.Pod)
			c, ok2 := cur.(*corev1.Pod)
			if ok1 && ok2 && o.ResourceVersion != c.ResourceVersion {
				t.podSeen(c, o.DeletionTimestamp == nil)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				t.podGone(p, "")
			}
		},
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	return t.endpoints.attach(slices)
}

// podSeen handles a pod added or updated. live says that this very update
// set the deletion timestamp, so that now is the request's time; otherwise
// the time is worked out from the deadline and the grace period, which the
// API gives to the second.
func (t *tracker) podSeen(p *corev1.Pod, live bool) {
	if p.DeletionTimestamp == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	uid := string(p.UID)
	d := t.deleting[uid]
	fins := sortedFinalizers(p)
	// Only the first deletion timestamp is the request: a later delete may
	// shorten the deadline (the kubelet's own final delete sets it to now).
	switch {
	case d == nil:
		at := requestTime(p)
		if live {
			at = t.now()
		}
		d = &deletion{ref: podRef(p), node: p.Spec.NodeName, requested: at, finalizers: fins}
		t.deleting[uid] = d
		e := t.event(apiv1.KindDeleteRequested, d, at)
		e.Finalizers = fins
		e.Initiator, e.Workload = readInitiator(p, t.owners)
		e.DeletionDeadline = timestamppb.New(p.DeletionTimestamp.Time)
		if p.DeletionGracePeriodSeconds != nil {
			g := int32(*p.DeletionGracePeriodSeconds)
			e.GracePeriodS = &g
		}
		t.emit(e, uid+"/"+apiv1.KindDeleteRequested)
		t.endpoints.flushPending(uid, d.requested)
	case !slices.Equal(d.finalizers, fins):
		t.finalizersChanged(uid, d, fins, "")
	}
}

// finalizersChanged records a deleting pod's new finalizers; the caller
// holds t.mu.
func (t *tracker) finalizersChanged(uid string, d *deletion, fins []string, note string) {
	d.finalizers = fins
	e := t.event(apiv1.KindFinalizersChanged, d, t.now())
	e.Finalizers, e.Reason = fins, note
	t.emit(e, fmt.Sprintf("%s/%s/%s", uid, apiv1.KindFinalizersChanged, strings.Join(fins, ",")))
}

// podGone handles a pod deleted from the API. note, when set, says why its
// time is only when the collector noticed.
func (t *tracker) podGone(p *corev1.Pod, note string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	uid := string(p.UID)
	d := t.deleting[uid]
	if d == nil {
		// Deleted without a grace period, or before a watch saw it deleting.
		at := t.now()
		if p.DeletionTimestamp != nil {
			at = requestTime(p)
		}
		d = &deletion{ref: podRef(p), node: p.Spec.NodeName, requested: at}
		t.deleting[uid] = d
		e := t.event(apiv1.KindDeleteRequested, d, at)
		e.Finalizers = sortedFinalizers(p)
		e.Initiator, e.Workload = readInitiator(p, t.owners)
		t.emit(e, uid+"/"+apiv1.KindDeleteRequested)
	} else if len(d.finalizers) > 0 {
		// The API deletes an object only without finalizers; removing the
		// last one of a pod past its deadline deletes it in the same write,
		// and the watch's deleted object still shows the finalizers.
		t.finalizersChanged(uid, d, nil, "")
	}
	t.markGone(uid, d, note)
}

// markGone records the object's removal; the caller holds t.mu.
func (t *tracker) markGone(uid string, d *deletion, note string) {
	if !d.deleted.IsZero() {
		return
	}
	d.deleted = t.now()
	e := t.event(apiv1.KindPodDeleted, d, d.deleted)
	e.Reason = note
	t.emit(e, uid+"/"+apiv1.KindPodDeleted)
	t.endpoints.podGone(uid)
}

// restore reloads one open deletion from its stored cluster events.
func (t *tracker) restore(p store.Pod, events []*apiv1.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := &deletion{
		ref:  &apiv1.PodRef{Namespace: p.Namespace, Name: p.Name, Uid: p.UID},
		node: p.Node, requested: time.Unix(0, p.DeleteNs),
	}
	if p.GoneNs > 0 {
		d.deleted = time.Unix(0, p.GoneNs)
	}
	for _, e := range events {
		switch e.Kind {
		case apiv1.KindDeleteRequested:
			d.finalizers = e.Finalizers
		case apiv1.KindFinalizersChanged:
			d.finalizers = e.Finalizers
		case apiv1.KindEndpointNotReady, apiv1.KindEndpointRemoved:
			if d.offServices == nil {
				d.offServices = map[string]bool{}
			}
			d.offServices[e.Service] = true
		case apiv1.KindStuck:
			d.lastStuck = e.GetTime().AsTime()
		}
	}
	t.deleting[p.UID] = d
}

// reconcile reports the deletions whose object is no longer listed: they
// were deleted while the collector was not watching.
func (t *tracker) reconcile(pods cache.Indexer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for uid, d := range t.deleting {
		if !d.deleted.IsZero() {
			continue
		}
		obj, ok, err := pods.GetByKey(d.ref.Namespace + "/" + d.ref.Name)
		if err == nil && ok {
			if p, isPod := obj.(*corev1.Pod); isPod && string(p.UID) == uid {
				continue
			}
		}
		const note = "while the collector was not watching; the time is when it noticed"
		if len(d.finalizers) > 0 {
			// The API deletes an object only once its finalizers are gone.
			t.finalizersChanged(uid, d, nil, "removed "+note)
		}
		t.markGone(uid, d, "deleted "+note)
	}
}

// event starts a cluster event about d's pod.
func (t *tracker) event(kind string, d *deletion, at time.Time) *apiv1.Event {
	return &apiv1.Event{Kind: kind, Source: apiv1.SourceAPI, Time: timestamppb.New(at), Node: d.node, Pod: d.ref}
}

// snapshot copies the open deletions for the periodic check.
func (t *tracker) snapshot() map[string]deletion {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]deletion, len(t.deleting))
	for uid, d := range t.deleting {
		out[uid] = *d
	}
	return out
}

// finished marks a deletion whose final summary is stored. It is kept for
// a while, so that endpoint changes arriving late still reach its timeline.
func (t *tracker) finished(uid string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := t.deleting[uid]; d != nil {
		d.finalized = at
	}
}

// prune forgets deletions finalized longer than pendingAge ago; the caller
// holds t.mu.
func (t *tracker) prune(now time.Time) {
	for uid, d := range t.deleting {
		if !d.finalized.IsZero() && now.Sub(d.finalized) > pendingAge {
			delete(t.deleting, uid)
		}
	}
	t.endpoints.prune(now)
}

// stuckReported records the time of a stuck report.
func (t *tracker) stuckReported(uid string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := t.deleting[uid]; d != nil {
		d.lastStuck = at
	}
}

// requestTime is when the delete was asked for: the deadline minus the
// grace period.
func requestTime(p *corev1.Pod) time.Time {
	at := p.DeletionTimestamp.Time
	if p.DeletionGracePeriodSeconds != nil {
		at = at.Add(-time.Duration(*p.DeletionGracePeriodSeconds) * time.Second)
	}
	return at
}

func podRef(p *corev1.Pod) *apiv1.PodRef {
	return &apiv1.PodRef{Namespace: p.Namespace, Name: p.Name, Uid: string(p.UID)}
}

func sortedFinalizers(p *corev1.Pod) []string {
	f := slices.Clone(p.Finalizers)
	slices.Sort(f)
	return f
}
