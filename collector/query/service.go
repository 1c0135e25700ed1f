// Package query answers readers: a pod's timeline, recent terminations and
// stuck pods from the store, and a live feed from the watch hub. The gRPC
// server and the HTTP handlers are two faces of the same Service.
package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

// Limits of List.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

var (
	// ErrInvalid is returned for a request that names nothing sensible.
	ErrInvalid = errors.New("invalid request")
	// ErrWatcherBehind ends a watch whose reader fell too far behind.
	ErrWatcherBehind = errors.New("watcher fell behind and missed events; watch again")
)

// Store is what queries read.
type Store interface {
	LatestPod(ctx context.Context, namespace, name string) (store.Pod, error)
	PodByUID(ctx context.Context, uid string) (store.Pod, error)
	PodEvents(ctx context.Context, uid string) ([][]byte, error)
	LatestOfKind(ctx context.Context, uid, kind string) ([]byte, error)
	Terminations(ctx context.Context, f store.Filter) ([]store.Pod, error)
	StuckPods(ctx context.Context, f store.Filter) ([]store.Pod, error)
	Report(ctx context.Context, namespace string, sinceNs int64) ([]store.WorkloadReport, error)
	RunningReadiness(ctx context.Context, namespace, pod string) ([]store.ReadinessRow, error)
	Histories(ctx context.Context, namespace string, sinceNs int64) (map[store.HistoryOf]store.History, error)
}

// Subscriber gives live feeds of new events.
type Subscriber interface {
	Subscribe(f watch.Filter) (*watch.Subscription, func())
}

// Service runs queries. Every event it returns can be encoded in the
// contract's JSON form: stored events that could not be are repaired or left
// out, and counted.
type Service struct {
	store   Store
	hub     Subscriber
	metrics *metrics
	log     *slog.Logger
	notices noticeGate
	owners  Owners
}

// NewService returns a Service reading st and watching hub, whose metrics
// are registered with reg.
func NewService(st Store, hub Subscriber, reg prometheus.Registerer, log *slog.Logger) *Service {
	return &Service{store: st, hub: hub, metrics: newMetrics(reg), log: log}
}

// Timeline returns the events of pod namespace/name (its latest incarnation,
// or the one with uid) in time order, and its termination summary.
func (s *Service) Timeline(ctx context.Context, namespace, name, uid string) ([]*apiv1.Event, *apiv1.Event, error) {
	if err := checkNames(field{"namespace", namespace, maxNamespaceLen}, field{"name", name, maxNameLen}, field{"uid", uid, maxUIDLen}); err != nil {
		return nil, nil, err
	}
	var pod store.Pod
	var err error
	switch {
	case uid != "":
		pod, err = s.store.PodByUID(ctx, uid)
	case namespace != "" && name != "":
		pod, err = s.store.LatestPod(ctx, namespace, name)
	default:
		return nil, nil, fmt.Errorf("%w: a timeline needs a namespace and a pod name, or a pod uid", ErrInvalid)
	}
	if err != nil {
		return nil, nil, err
	}
	events, err := s.podEvents(ctx, pod.UID)
	if err != nil {
		return nil, nil, err
	}
	sum := Summarize(events)
	if sum != nil {
		sum = s.servable(sum, false)
	}
	return events, sum, nil
}

func (s *Service) podEvents(ctx context.Context, uid string) ([]*apiv1.Event, error) {
	bodies, err := s.store.PodEvents(ctx, uid)
	if err != nil {
		return nil, err
	}
	events := make([]*apiv1.Event, 0, len(bodies))
	for _, b := range bodies {
		if e := s.decode(b); e != nil {
			events = append(events, e)
		}
	}
	return events, nil
}

// ListFilter narrows List; Validate says what it accepts.
type ListFilter struct {
	Namespace, Node, Verdict string
	Since                    time.Time
	Limit                    int
}

// List returns recent terminations, newest first, as termination_summary
// events. A since before 1970 bounds nothing.
func (s *Service) List(ctx context.Context, f ListFilter) ([]*apiv1.Event, error) {
	if err := f.Validate(time.Now()); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	sf := store.Filter{Namespace: f.Namespace, Node: f.Node, Limit: limit}
	if f.Since.After(epoch) {
		sf.SinceNs = f.Since.UnixNano()
	}
	var out []*apiv1.Event
	// A verdict filter applies to summaries, which are derived after the
	// store's listing: page until enough match.
	for len(out) < limit {
		pods, err := s.store.Terminations(ctx, sf)
		if err != nil {
			return nil, err
		}
		for _, p := range pods {
			events, err := s.podEvents(ctx, p.UID)
			if err != nil {
				return nil, err
			}
			sum := Summarize(events)
			if sum != nil && (f.Verdict == "" || sum.Verdict == f.Verdict) && len(out) < limit {
				out = append(out, s.servable(sum, false))
			}
		}
		if len(pods) < sf.Limit {
			break
		}
		sf.Offset += len(pods)
	}
	return out, nil
}

// Stuck returns the latest stuck report of every pod stuck now.
func (s *Service) Stuck(ctx context.Context, namespace, node string) ([]*apiv1.Event, error) {
	if err := checkNames(field{"namespace", namespace, maxNamespaceLen}, field{"node", node, maxNameLen}); err != nil {
		return nil, err
	}
	pods, err := s.store.StuckPods(ctx, store.Filter{Namespace: namespace, Node: node, Limit: MaxLimit})
	if err != nil {
		return nil, err
	}
	out := make([]*apiv1.Event, 0, len(pods))
	for _, p := range pods {
		b, err := s.store.LatestOfKind(ctx, p.UID, apiv1.KindStuck)
		if errors.Is(err, store.ErrNotFound) {
			// Stuck by the verdict of a summary rather than a report.
			b, err = s.store.LatestOfKind(ctx, p.UID, apiv1.KindTerminationSummary)
		}
		if err != nil {
			return nil, err
		}
		if e := s.decode(b); e != nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// Watch calls send with every new event matching f until ctx ends, send
// fails, or the watcher falls behind (ErrWatcherBehind). ready, when not
// nil, is called once the subscription is in place: events stored after it
// returns are sure to be sent.
func (s *Service) Watch(ctx context.Context, f watch.Filter, ready func() error, send func(*apiv1.Event) error) error {
	if err := checkNames(field{"namespace", f.Namespace, maxNamespaceLen}, field{"node", f.Node, maxNameLen}, field{"name", f.Name, maxNameLen}); err != nil {
		return err
	}
	sub, cancel := s.hub.Subscribe(f)
	defer cancel()
	if ready != nil {
		if err := ready(); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-sub.Events:
			if !ok {
				if sub.Overflowed() {
					return ErrWatcherBehind
				}
				return nil
			}
			// The hub shares e with every watcher: a repair works on a copy.
			if err := send(s.servable(e, false)); err != nil {
				return err
			}
		}
	}
}
