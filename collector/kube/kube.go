// Package kube is the collector's cluster side: shared informers on Pods,
// EndpointSlices and Nodes (and, read-only, on the pods' owners: ReplicaSets,
// Deployments, StatefulSets and Jobs, which tell who started a deletion) turn the API's view of a deletion into events
// (delete_requested, endpoint_not_ready, endpoint_removed,
// finalizers_changed, pod_deleted) stored beside the agents' events under
// the same pod UID. It also reports deletions that hang outside the node
// (finalizers, or a node that never acts) and stores each pod's final,
// joined summary once the object is gone.
//
// Every event has a key naming what it is about (the pod, the kind, the
// Service, the deletion deadline); the store keeps one event per key, so a
// relist, a resync or a collector restart that sees the same thing again
// stores nothing new.
package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// Defaults for Config.
const (
	DefaultStuckAfter   = 30 * time.Second
	DefaultStuckEvery   = time.Minute
	DefaultFinalWait    = 2 * time.Minute
	DefaultCheckPeriod  = 5 * time.Second
	defaultQueueLimit   = 100000
	defaultResyncPeriod = 0 // informers relist on their own; no periodic resync is needed
)

// Config says how to reach the API and when a deletion counts as stuck.
type Config struct {
	// Kubeconfig is a kubeconfig file; empty means the in-cluster config.
	Kubeconfig string
	// StuckAfter is how long the object may outlive the node's work, or the
	// node may stay idle after the delete request, before a stuck report.
	StuckAfter time.Duration
	// StuckEvery is the cadence of repeated stuck reports.
	StuckEvery time.Duration
	// FinalWait is how long a deleted pod's final summary waits for its
	// node's own summary.
	FinalWait time.Duration
	// CheckPeriod is how often open deletions are checked.
	CheckPeriod time.Duration
	// QueueLimit bounds events waiting for the store; beyond it they are
	// dropped and counted.
	QueueLimit int
}

// DefaultConfig returns the settings the collector starts with.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.StuckAfter == 0 {
		c.StuckAfter = DefaultStuckAfter
	}
	if c.StuckEvery == 0 {
		c.StuckEvery = DefaultStuckEvery
	}
	if c.FinalWait == 0 {
		c.FinalWait = DefaultFinalWait
	}
	if c.CheckPeriod == 0 {
		c.CheckPeriod = DefaultCheckPeriod
	}
	if c.QueueLimit == 0 {
		c.QueueLimit = defaultQueueLimit
	}
}

// Store is what the cluster side reads and writes.
type Store interface {
	Insert(ctx context.Context, rows []store.Row) (store.InsertResult, error)
	OpenDeletions(ctx context.Context) ([]store.Pod, error)
	ClusterEvents(ctx context.Context, uid string) ([][]byte, error)
	PodEvents(ctx context.Context, uid string) ([][]byte, error)
	LatestNodeEvent(ctx context.Context, uid, kind string) ([]byte, error)
	FirstNodeEvent(ctx context.Context, uid string, sinceNs int64, kinds ...string) ([]byte, error)
	Predicted(ctx context.Context, uid, container string) (cause string, ok bool, err error)
}

// Publisher hands newly stored events to live watchers.
type Publisher interface {
	Publish(events []*apiv1.Event)
}

// Summarizer joins a pod's stored events, in time order, into its
// termination summary, with the cluster side; the query side's Summarize
// is one. The joined summary is the query side's rule, not the watches'.
type Summarizer func(events []*apiv1.Event) *apiv1.Event

// Agents tells whether a node's agent is streaming.
type Agents interface {
	Agent(node string) (connected bool, lastBatch time.Time)
}

// RestConfig loads the API client configuration: the kubeconfig file when
// given, else the in-cluster service account.
func RestConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("load in-cluster Kubernetes config (give --kubeconfig outside a cluster): %w", err)
	}
	return cfg, nil
}

// Watcher runs the informers and everything they feed.
type Watcher struct {
	cfg       Config
	st        Store
	agents    Agents
	summarize Summarizer
	log       *slog.Logger
	metrics   *metrics
	health    *Health
	writer    *writer
	factory   informers.SharedInformerFactory
	state     *tracker
	now       func() time.Time
	// own is set once Run has made the owners' caches, which PodOwner
	// reads from the query goroutines.
	own atomic.Pointer[owners]
}

// New builds a Watcher on an API client; summarize makes the final summary
// of a deleted pod. Nothing runs until Run.
func New(cfg Config, rc *rest.Config, st Store, pub Publisher, agents Agents, summarize Summarizer, reg prometheus.Registerer, log *slog.Logger) (*Watcher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("check cluster-side configuration: %w", err)
	}
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "graceline-collector"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	m := newMetrics(reg)
	w := &Watcher{
		cfg: cfg, st: st, agents: agents, summarize: summarize, log: log, metrics: m,
		health:  newHealth(m, log),
		factory: informers.NewSharedInformerFactory(cs, defaultResyncPeriod),
		now:     time.Now,
	}
	w.writer = newWriter(st, pub, cfg.QueueLimit, m, log)
	w.state = newTracker(w.writer.add, w.now)
	return w, nil
}

// Health reports whether the watches work, for the health endpoint.
func (w *Watcher) Health() *Health { return w.health }

// Run restores open deletions from the store, starts the informers, and
// serves until ctx ends. Failing watches (no rights, API down) are retried
// by the informers and reported through Health; they never stop Run, so the
// collector keeps serving the node data.
func (w *Watcher) Run(ctx context.Context) error {
	if err := w.restore(ctx); err != nil {
		return err
	}
	pods := w.factory.Core().V1().Pods()
	slices := w.factory.Discovery().V1().EndpointSlices()
	nodes := w.factory.Core().V1().Nodes()
	own, ownerInformers := w.owners(pods)
	watched := map[string]cache.SharedIndexInformer{"pods": pods.Informer(), "endpointslices": slices.Informer(), "nodes": nodes.Informer()}
	for name, inf := range ownerInformers {
		if err := inf.SetTransform(trimOwner); err != nil {
			return fmt.Errorf("set %s transform: %w", name, err)
		}
		watched[name] = inf
	}
	for name, inf := range watched {
		if err := w.health.watch(name, inf); err != nil {
			return err
		}
	}
	w.state.owners = own
	w.own.Store(own)
	if err := w.state.attach(pods, slices, nodes); err != nil {
		return err
	}

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		w.writer.run(ctx)
	}()
	w.factory.Start(ctx.Done())
	go w.health.run(ctx)
	go w.reconcileAfterSync(ctx, pods.Informer())

	t := time.NewTicker(w.cfg.CheckPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			w.factory.Shutdown()
			<-writerDone
			return nil
		case <-t.C:
			w.check(ctx)
		}
	}
}

// PodOwner names a pod's owner workload (nil for none) and its grace
// period, from the informers' caches; ok is false while the pod is not in
// them.
func (w *Watcher) PodOwner(namespace, name string) (workload *apiv1.WorkloadRef, grace time.Duration, ok bool) {
	o := w.own.Load()
	if o == nil {
		return nil, 0, false
	}
	p, err := o.pods.Pods(namespace).Get(name)
	if err != nil {
		return nil, 0, false
	}
	workload, _, _ = podWorkload(p, o)
	if g := p.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	return workload, grace, true
}

// restore reloads the deletions the collector had not finished with before
// it stopped, so that a restart neither repeats nor misses their events.
func (w *Watcher) restore(ctx context.Context) error {
	open, err := w.st.OpenDeletions(ctx)
	if err != nil {
		return fmt.Errorf("restore open deletions: %w", err)
	}
	for _, p := range open {
		bodies, err := w.st.ClusterEvents(ctx, p.UID)
		if err != nil {
			return fmt.Errorf("restore open deletions: %w", err)
		}
		events := make([]*apiv1.Event, 0, len(bodies))
		for _, b := range bodies {
			e, err := decode(b)
			if err != nil {
				w.log.Warn("skipping an undecodable stored event while restoring", "pod_uid", p.UID, "err", err)
				continue
			}
			events = append(events, e)
		}
		w.state.restore(p, events)
	}
	if len(open) > 0 {
		w.log.Info("restored open deletions from the store", "pods", len(open))
	}
	return nil
}

// reconcileAfterSync finds, once the first pod listing is in, the open
// deletions whose object vanished while the collector was not watching.
func (w *Watcher) reconcileAfterSync(ctx context.Context, pods cache.SharedIndexInformer) {
	if !cache.WaitForCacheSync(ctx.Done(), pods.HasSynced) {
		return
	}
	w.state.reconcile(pods.GetIndexer())
}

// owners makes the informers on the pods' owners that the initiator is
// read from, by resource name, and the caches over them.
func (w *Watcher) owners(pods coreinformers.PodInformer) (*owners, map[string]cache.SharedIndexInformer) {
	rs := w.factory.Apps().V1().ReplicaSets()
	deps := w.factory.Apps().V1().Deployments()
	sts := w.factory.Apps().V1().StatefulSets()
	jobs := w.factory.Batch().V1().Jobs()
	infs := map[string]cache.SharedIndexInformer{
		"replicasets": rs.Informer(), "deployments": deps.Informer(), "statefulsets": sts.Informer(), "jobs": jobs.Informer(),
	}
	o := &owners{
		pods: pods.Lister(), replicaSets: rs.Lister(), deployments: deps.Lister(), statefulSets: sts.Lister(), jobs: jobs.Lister(),
		synced: func() bool {
			for _, inf := range infs {
				if !inf.HasSynced() {
					return false
				}
			}
			return true
		},
	}
	return o, infs
}
