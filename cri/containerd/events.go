// Package containerd follows containerd's own event API. It gives what CRI
// does not: the exact exit status and time of a container's init process, and
// OOM kills, as containerd's task service sees them.
package containerd

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/containerd/v2/core/events/proxy"
	"github.com/containerd/containerd/v2/pkg/dialer"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/graceline/graceline/cri"
	"github.com/graceline/graceline/internal/grpcwindow"
)

// Namespace is the containerd namespace the CRI plugin keeps Kubernetes
// objects in.
const Namespace = "k8s.io"

// Topics graceline subscribes to.
const (
	TopicTaskExit       = "/tasks/exit"
	TopicTaskOOM        = "/tasks/oom"
	TopicSnapshotRemove = "/snapshot/remove"
)

// topics are those the agent uses; each message the agent need not read is
// a wake-up it saves, and a mass deletion brings several a pod.
//   - /containers/delete is not among them: a container's removal is only
//     in order against its sandbox's stop when CRI reports both, so
//     removals come from CRI alone.
//   - Nor is /tasks/delete, which repeats the status of /tasks/exit, two
//     messages more a pod. An exit missed while the subscription was down
//     is the CRI relist's to find, with the status the runtime recorded,
//     as every other change made meanwhile is.
var topics = []string{TopicTaskExit, TopicTaskOOM, TopicSnapshotRemove}

// Watcher subscribes to containerd's events and reports them as observations.
type Watcher struct {
	address string
	apply   func(cri.Observation)
	// snapshotRemoved, if set, learns of every removed snapshot.
	snapshotRemoved func(key, snapshotter string, at time.Time)
	metrics         *cri.Metrics
	log             *slog.Logger
	backoff         wait.Backoff
}

// NewWatcher returns a Watcher for the containerd at address (a socket path)
// that hands each observation to apply.
func NewWatcher(address string, apply func(cri.Observation), snapshotRemoved func(key, snapshotter string, at time.Time), m *cri.Metrics, backoff wait.Backoff, log *slog.Logger) *Watcher {
	return &Watcher{address: address, apply: apply, snapshotRemoved: snapshotRemoved, metrics: m, log: log, backoff: backoff}
}

// dialTimeout bounds one attempt to connect to containerd's socket.
const dialTimeout = 5 * time.Second

// Run subscribes until ctx ends, resubscribing with backoff after containerd
// restarts. Events missed in between are recovered by the CRI relist.
//
// It speaks to containerd through its events and version services alone,
// with containerd's own proxy and dialer, rather than through its full
// client: that client brings image, transfer and snapshot code, several
// megabytes of binary and of resident pages, that the agent never runs.
func (w *Watcher) Run(ctx context.Context) error {
	connect := backoff.DefaultConfig
	connect.MaxDelay = dialTimeout
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dialer.ContextDialer),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: connect, MinConnectTimeout: dialTimeout}),
	}, grpcwindow.Static()...)
	conn, err := grpc.NewClient(dialer.DialAddress(w.address), opts...)
	if err != nil {
		return fmt.Errorf("create containerd client for %s: %w", w.address, err)
	}
	defer conn.Close()
	c := containerdClient{events: proxy.NewRemoteEvents(conn), version: versionapi.NewVersionClient(conn)}

	filters := make([]string, len(topics))
	for i, t := range topics {
		filters[i] = fmt.Sprintf("namespace==%q,topic==%q", Namespace, t)
	}
	backoff := w.backoff
	up := w.metrics.SourceUp.WithLabelValues(cri.SourceContainerd)
	for ctx.Err() == nil {
		err := w.subscribe(ctx, c, filters, func() {
			backoff = w.backoff
			up.Set(1)
			w.log.Info("containerd event stream connected", "address", w.address)
		})
		up.Set(0)
		if ctx.Err() != nil {
			break
		}
		w.metrics.Reconnects.WithLabelValues(cri.SourceContainerd).Inc()
		d := backoff.Step()
		w.log.Warn("containerd event stream broke; retrying", "err", err, "retry_in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	return nil
}

// containerdClient is what the watcher asks of containerd.
type containerdClient struct {
	events  events.Subscriber
	version versionapi.VersionClient
}

func (w *Watcher) subscribe(ctx context.Context, c containerdClient, filters []string, connected func()) error {
	ctx, cancel := context.WithCancel(namespaces.WithNamespace(ctx, Namespace))
	defer cancel()
	// Subscribe is lazy; a Version call tells us the daemon is there, so
	// "connected" is not logged for a socket that does not answer.
	if _, err := c.version.Version(ctx, &emptypb.Empty{}); err != nil {
		return fmt.Errorf("reach containerd: %w", err)
	}
	ch, errs := c.events.Subscribe(ctx, filters...)
	connected()
	for {
		select {
		case env := <-ch:
			w.handle(env)
		case err := <-errs:
			return fmt.Errorf("receive containerd events: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (w *Watcher) handle(env *events.Envelope) {
	w.metrics.ContainerdEvents.WithLabelValues(env.Topic).Inc()
	ev, err := typeurl.UnmarshalAny(env.Event)
	if err != nil {
		w.metrics.Warnings.WithLabelValues("containerd.event").Inc()
		w.log.Warn("undecodable containerd event", "topic", env.Topic, "err", err)
		return
	}
	if sr, ok := ev.(*apievents.SnapshotRemove); ok && w.snapshotRemoved != nil {
		w.snapshotRemoved(sr.Key, sr.Snapshotter, env.Timestamp)
		return
	}
	if obs, ok := Observe(ev, env.Timestamp); ok {
		w.apply(obs)
	}
}

// Observe maps one decoded containerd event to an observation. Exits of exec
// processes (a preStop hook run through ExecSync, say) are not the container's.
func Observe(ev any, at time.Time) (cri.Observation, bool) {
	obs := cri.Observation{Time: at, Source: cri.SourceContainerd}
	switch e := ev.(type) {
	case *apievents.TaskExit:
		if e.ID != e.ContainerID {
			return obs, false
		}
		obs.Kind, obs.ID = cri.ContainerExited, e.ContainerID
		obs.Exit = &cri.Exit{Code: int32(e.ExitStatus), At: e.ExitedAt.AsTime()}
	case *apievents.TaskOOM:
		obs.Kind, obs.ID = cri.ContainerOOM, e.ContainerID
	default:
		// /snapshot/remove goes to the resource-release watcher.
		return obs, false
	}
	return obs, obs.ID != ""
}
