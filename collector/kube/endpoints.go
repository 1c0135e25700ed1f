package kube

import (
	"fmt"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// pendingLimit bounds the endpoint changes kept for one pod not (yet) seen
// deleting, and pendingAge how long they are kept.
const (
	pendingLimit = 8
	pendingAge   = 2 * time.Minute
	// pendingSlack accepts endpoint changes seen just before the delete
	// request's recorded time, which the API gives to the second.
	pendingSlack = 2 * time.Second
)

// member is one pod's place in a Service's EndpointSlices.
type member struct {
	ready bool
	slice string
}

// endpointChange is an endpoint event for a pod not yet seen deleting: the
// EndpointSlice watch can deliver it before the pod watch delivers the
// deletion that caused it.
type endpointChange struct {
	kind, service, slice string
	at                   time.Time
}

// endpointState follows which pods each Service's EndpointSlices offer, to
// tell when a deleting pod stops being offered. It is guarded by the
// tracker's mutex.
type endpointState struct {
	t        *tracker
	lister   discoverylisters.EndpointSliceLister
	services map[string]map[string]member // "namespace/service" → pod UID →
	pending  map[string][]endpointChange  // by pod UID
}

func newEndpointState(t *tracker) endpointState {
	return endpointState{t: t, services: map[string]map[string]member{}, pending: map[string][]endpointChange{}}
}

func (s *endpointState) attach(inf discoveryinformers.EndpointSliceInformer) error {
	s.lister = inf.Lister()
	changed := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		es, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return
		}
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			return
		}
		s.t.mu.Lock()
		defer s.t.mu.Unlock()
		s.recompute(es.Namespace, svc)
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		UpdateFunc: func(_, cur any) { changed(cur) },
		DeleteFunc: changed,
	}); err != nil {
		return fmt.Errorf("watch endpointslices: %w", err)
	}
	return nil
}

// recompute compares what a Service's slices offer now with what they
// offered before, and reports deleting pods that stopped being ready or
// left. A Service seen for the first time (at start, or after a restart)
// is checked against the deleting pods instead.
func (s *endpointState) recompute(namespace, service string) {
	list, err := s.lister.EndpointSlices(namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: service}))
	if err != nil {
		return // the lister reads the local cache; it fails only on a bad selector
	}
	cur := map[string]member{}
	for _, es := range list {
		for _, ep := range es.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || ep.TargetRef.UID == "" {
				continue
			}
			uid := string(ep.TargetRef.UID)
			// A nil ready condition means ready, by the API's definition.
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			m := cur[uid]
			if m.slice == "" || ready && !m.ready {
				m.slice = es.Name
			}
			m.ready = m.ready || ready
			cur[uid] = m
		}
	}
	key := namespace + "/" + service
	prev, known := s.services[key]
	now := s.t.now()
	for uid, p := range prev {
		c, ok := cur[uid]
		switch {
		case !ok:
			s.change(uid, endpointChange{apiv1.KindEndpointRemoved, key, p.slice, now})
		case p.ready && !c.ready:
			s.change(uid, endpointChange{apiv1.KindEndpointNotReady, key, c.slice, now})
		}
	}
	if !known {
		for uid, c := range cur {
			if d := s.t.deleting[uid]; d != nil && !c.ready {
				s.change(uid, endpointChange{apiv1.KindEndpointNotReady, key, c.slice, now})
			}
		}
		for uid, d := range s.t.deleting {
			if _, in := cur[uid]; !in && d.offServices[key] {
				s.change(uid, endpointChange{apiv1.KindEndpointRemoved, key, "", now})
			}
		}
	}
	if len(cur) == 0 {
		delete(s.services, key)
	} else {
		s.services[key] = cur
	}
}

// change reports c for a deleting pod, or keeps it a while for a pod whose
// deletion the pod watch has not delivered yet.
func (s *endpointState) change(uid string, c endpointChange) {
	d := s.t.deleting[uid]
	if d == nil {
		if p := s.pending[uid]; len(p) < pendingLimit {
			s.pending[uid] = append(p, c)
		}
		return
	}
	if d.offServices == nil {
		d.offServices = map[string]bool{}
	}
	d.offServices[c.service] = true
	e := s.t.event(c.kind, d, c.at)
	e.Service, e.EndpointSlice = c.service, c.slice
	s.t.emit(e, fmt.Sprintf("%s/%s/%s", uid, c.kind, c.service))
}

// flushPending reports the changes kept for a pod now seen deleting that
// happened around or after its delete request.
func (s *endpointState) flushPending(uid string, requested time.Time) {
	for _, c := range s.pending[uid] {
		if !c.at.Before(requested.Add(-pendingSlack)) {
			s.change(uid, c)
		}
	}
	delete(s.pending, uid)
}

// podGone forgets what was kept for a pod that is gone.
func (s *endpointState) podGone(uid string) { delete(s.pending, uid) }

// prune drops kept changes older than pendingAge.
func (s *endpointState) prune(now time.Time) {
	for uid, cs := range s.pending {
		if now.Sub(cs[len(cs)-1].at) > pendingAge {
			delete(s.pending, uid)
		}
	}
}
