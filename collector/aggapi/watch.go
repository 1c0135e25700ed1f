package aggapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
	hub "github.com/graceline/graceline/collector/watch"
)

var _ rest.Watcher = (*terminations)(nil)

// summaryKinds are the kinds after which a pod's summary may read
// differently: the node's summary, a stuck report, and the cluster side's
// steps that the summary joins. The other events of a termination change
// nothing a PodTermination shows, and are not worth a read each.
var summaryKinds = map[string]bool{
	apiv1.KindTerminationSummary: true,
	apiv1.KindStuck:              true,
	apiv1.KindDeleteRequested:    true,
	apiv1.KindFinalizersChanged:  true,
	apiv1.KindPodDeleted:         true,
}

// Watch follows the terminations of the request's namespace (every
// namespace's for -A) as the collector stores their events, on the
// collector's watch hub: after each event that may change a pod's summary,
// the pod's termination is read again and sent, ADDED the first time this
// watch sends it and MODIFIED after. The label and field selectors apply
// as for List. Nothing is replayed: a client lists first, as kubectl does.
// A watcher that falls behind is ended with 410 Gone, which tells clients
// to list again.
func (t *terminations) Watch(ctx context.Context, opts *metainternalversion.ListOptions) (watch.Interface, error) {
	sel := fieldSelector(opts)
	f := hub.Filter{Namespace: genericapirequest.NamespaceValue(ctx)}
	f.Node, _ = sel.RequiresExactMatch(v1alpha1.FieldNodeName)
	f.Name, _ = sel.RequiresExactMatch("metadata.name")
	// The feed outlives this call but not the request: the handler stops
	// it when the client goes, and so does the request's context.
	ctx, cancel := context.WithCancel(ctx)
	w := &feed{ch: make(chan watch.Event), cancel: cancel}
	ready := make(chan error, 1)
	seen := map[string]bool{}
	go func() {
		defer close(w.ch)
		err := t.r.Watch(ctx, f, func() error { ready <- nil; return nil }, func(e *apiv1.Event) error {
			if !summaryKinds[e.GetKind()] {
				return nil
			}
			_, sum, err := t.r.Timeline(ctx, e.GetPod().GetNamespace(), e.GetPod().GetName(), e.GetPod().GetUid())
			if err != nil || sum == nil {
				// A pod whose events are not readable yet is sent with
				// its next event.
				return nil
			}
			p := v1alpha1.ToTermination(sum)
			if !matches(opts, sel, p.ObjectMeta, p.Status.Verdict, p.Status.NodeName) {
				return nil
			}
			typ := watch.Modified
			if !seen[string(p.UID)] {
				typ, seen[string(p.UID)] = watch.Added, true
			}
			return w.send(ctx, watch.Event{Type: typ, Object: p})
		})
		select {
		case ready <- err:
		default:
		}
		if err != nil && ctx.Err() == nil {
			w.send(ctx, watch.Event{Type: watch.Error, Object: watchStatus(err)})
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			cancel()
			return nil, apiError(err, v1alpha1.ResourcePodTerminations, "")
		}
	case <-ctx.Done():
		return nil, apierrors.NewTimeoutError("the watch was not set up in time", 1)
	}
	return w, nil
}

// watchStatus is the status that ends a watch on err.
func watchStatus(err error) *metav1.Status {
	if errors.Is(err, query.ErrWatcherBehind) {
		s := apierrors.NewResourceExpired(err.Error()).Status()
		return &s
	}
	return &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError,
		Message: fmt.Sprintf("watch podterminations: %v", err)}
}

// feed is a watch.Interface over a channel that one goroutine fills.
type feed struct {
	ch     chan watch.Event
	cancel context.CancelFunc
}

func (w *feed) Stop()                          { w.cancel() }
func (w *feed) ResultChan() <-chan watch.Event { return w.ch }

// send hands e to the client, or gives up once the watch is stopped.
func (w *feed) send(ctx context.Context, e watch.Event) error {
	select {
	case w.ch <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
