package aggapi

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

// Reader is what the API reads: the collector's query service.
type Reader interface {
	Timeline(ctx context.Context, namespace, name, uid string) ([]*apiv1.Event, *apiv1.Event, error)
	List(ctx context.Context, f query.ListFilter) ([]*apiv1.Event, error)
	Stuck(ctx context.Context, namespace, node string) ([]*apiv1.Event, error)
	Report(ctx context.Context, namespace string, since time.Time) ([]*apiv1.WorkloadReport, error)
	Check(ctx context.Context, f query.CheckFilter, now time.Time) ([]*apiv1.ContainerCheck, error)
	Watch(ctx context.Context, f watch.Filter, ready func() error, send func(*apiv1.Event) error) error
}

// terminations serves podterminations: get and list, with a server-side
// table.
type terminations struct{ r Reader }

var (
	_ rest.Storage              = (*terminations)(nil)
	_ rest.Getter               = (*terminations)(nil)
	_ rest.Lister               = (*terminations)(nil)
	_ rest.Scoper               = (*terminations)(nil)
	_ rest.KindProvider         = (*terminations)(nil)
	_ rest.SingularNameProvider = (*terminations)(nil)
)

func (*terminations) New() runtime.Object     { return &v1alpha1.PodTermination{} }
func (*terminations) NewList() runtime.Object { return &v1alpha1.PodTerminationList{} }
func (*terminations) Destroy()                {}
func (*terminations) NamespaceScoped() bool   { return true }
func (*terminations) Kind() string            { return "PodTermination" }
func (*terminations) GetSingularName() string { return "podtermination" }
func (t *terminations) ConvertToTable(ctx context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return terminationTable(obj)
}

// Get returns the termination of the latest pod of that name in the
// request's namespace.
func (t *terminations) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	ns := genericapirequest.NamespaceValue(ctx)
	_, sum, err := t.r.Timeline(ctx, ns, name, "")
	if err != nil {
		return nil, apiError(err, "podterminations", name)
	}
	if sum == nil {
		return nil, apierrors.NewNotFound(v1alpha1.SchemeGroupVersion.WithResource("podterminations").GroupResource(), name)
	}
	return v1alpha1.ToTermination(sum), nil
}

// List returns the request's namespace's terminations (every namespace's
// for -A), newest first. An exact verdict or node in the field selector is
// passed to the query; every selector is then checked on each object.
func (t *terminations) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	f := query.ListFilter{Namespace: genericapirequest.NamespaceValue(ctx), Limit: query.MaxLimit}
	sel := fieldSelector(opts)
	f.Verdict, _ = sel.RequiresExactMatch(v1alpha1.FieldVerdict)
	f.Node, _ = sel.RequiresExactMatch(v1alpha1.FieldNodeName)
	if opts != nil && opts.Limit > 0 && opts.Limit < query.MaxLimit {
		f.Limit = int(opts.Limit)
	}
	sums, err := t.r.List(ctx, f)
	if err != nil {
		return nil, apiError(err, "podterminations", "")
	}
	list := &v1alpha1.PodTerminationList{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "PodTerminationList"}, Items: []v1alpha1.PodTermination{}}
	for _, s := range sums {
		p := v1alpha1.ToTermination(s)
		if matches(opts, sel, p.ObjectMeta, p.Status.Verdict, p.Status.NodeName) {
			list.Items = append(list.Items, *p)
		}
	}
	return list, nil
}

// timelines serves podterminations/timeline: every event of the pod.
type timelines struct{ r Reader }

var (
	_ rest.GetterWithOptions = (*timelines)(nil)
	_ rest.Scoper            = (*timelines)(nil)
)

func (*timelines) New() runtime.Object   { return &v1alpha1.PodTerminationTimeline{} }
func (*timelines) Destroy()              {}
func (*timelines) NamespaceScoped() bool { return true }

// NewGetOptions makes the timeline read ?uid= (v1alpha1.TimelineOptions).
func (*timelines) NewGetOptions() (runtime.Object, bool, string) {
	return &v1alpha1.TimelineOptions{}, false, ""
}

// Get returns the events of the latest pod of that name (or of the one
// with the options' uid), each in the event contract's JSON form, and its
// summary joined with the cluster side.
func (t *timelines) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	ns := genericapirequest.NamespaceValue(ctx)
	var uid string
	if o, ok := options.(*v1alpha1.TimelineOptions); ok && o != nil {
		uid = o.UID
	}
	events, sum, err := t.r.Timeline(ctx, ns, name, uid)
	if err != nil {
		return nil, apiError(err, "podterminations", name)
	}
	// The store finds a uid in every namespace, while the caller was
	// authorized for the URL's namespace only: a pod elsewhere, or of
	// another name, is not there for this caller.
	if uid != "" && !samePod(events, sum, ns, name) {
		return nil, apierrors.NewNotFound(v1alpha1.SchemeGroupVersion.WithResource("podterminations").GroupResource(), name)
	}
	tl := &v1alpha1.PodTerminationTimeline{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "PodTerminationTimeline"}, Events: []runtime.RawExtension{}}
	if len(events) > 0 {
		tl.ObjectMeta = v1alpha1.PodMeta(events[0])
	}
	if sum != nil {
		tl.ObjectMeta = v1alpha1.PodMeta(sum)
		b, err := apiv1.MarshalJSONLine(sum)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		tl.Summary = &runtime.RawExtension{Raw: b}
	}
	for _, e := range events {
		b, err := apiv1.MarshalJSONLine(e)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		tl.Events = append(tl.Events, runtime.RawExtension{Raw: b})
	}
	return tl, nil
}

// samePod tells whether the events read for a uid, and its summary, are of
// pod namespace/name: at least one names it, and none names another. An
// event the node could not yet attribute to a pod by name names none.
func samePod(events []*apiv1.Event, sum *apiv1.Event, namespace, name string) bool {
	named := false
	for _, e := range append(events, sum) {
		ns, n := e.GetPod().GetNamespace(), e.GetPod().GetName()
		if ns == "" && n == "" {
			continue
		}
		if ns != namespace || n != name {
			return false
		}
		named = true
	}
	return named
}

// stuckPods serves stuckpods: the pods whose termination is stuck now.
type stuckPods struct{ r Reader }

var (
	_ rest.Lister               = (*stuckPods)(nil)
	_ rest.Scoper               = (*stuckPods)(nil)
	_ rest.KindProvider         = (*stuckPods)(nil)
	_ rest.SingularNameProvider = (*stuckPods)(nil)
)

func (*stuckPods) New() runtime.Object     { return &v1alpha1.StuckPod{} }
func (*stuckPods) NewList() runtime.Object { return &v1alpha1.StuckPodList{} }
func (*stuckPods) Destroy()                {}
func (*stuckPods) NamespaceScoped() bool   { return true }
func (*stuckPods) Kind() string            { return "StuckPod" }
func (*stuckPods) GetSingularName() string { return "stuckpod" }
func (s *stuckPods) ConvertToTable(ctx context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return stuckTable(obj)
}

// List returns the stuck pods of the request's namespace (every
// namespace's for -A).
func (s *stuckPods) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	sel := fieldSelector(opts)
	node, _ := sel.RequiresExactMatch(v1alpha1.FieldNodeName)
	reports, err := s.r.Stuck(ctx, genericapirequest.NamespaceValue(ctx), node)
	if err != nil {
		return nil, apiError(err, "stuckpods", "")
	}
	list := &v1alpha1.StuckPodList{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "StuckPodList"}, Items: []v1alpha1.StuckPod{}}
	for _, e := range reports {
		p := v1alpha1.ToStuck(e)
		if matches(opts, sel, p.ObjectMeta, apiv1.VerdictStuck, p.Status.NodeName) {
			list.Items = append(list.Items, *p)
		}
	}
	return list, nil
}

func fieldSelector(opts *metainternalversion.ListOptions) fields.Selector {
	if opts == nil || opts.FieldSelector == nil {
		return fields.Everything()
	}
	return opts.FieldSelector
}

// matches checks an object against the request's selectors: the labels
// the objects carry (v1alpha1.LabelVerdict, v1alpha1.LabelNode) and the
// fields.
func matches(opts *metainternalversion.ListOptions, sel fields.Selector, meta metav1.ObjectMeta, verdict, node string) bool {
	if opts != nil && opts.LabelSelector != nil && !opts.LabelSelector.Matches(labels.Set(meta.Labels)) {
		return false
	}
	return sel.Matches(fields.Set{
		"metadata.name":        meta.Name,
		"metadata.namespace":   meta.Namespace,
		v1alpha1.FieldVerdict:  verdict,
		v1alpha1.FieldNodeName: node,
	})
}

// apiError turns a query's error into the API's status.
func apiError(err error, resource, name string) error {
	gr := v1alpha1.SchemeGroupVersion.WithResource(resource).GroupResource()
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, query.ErrInvalid):
		return apierrors.NewBadRequest(err.Error())
	}
	return apierrors.NewInternalError(err)
}
