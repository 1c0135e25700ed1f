package aggapi

import (
	"context"
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
)

// terminationChecks serves terminationchecks: how each running container
// would stop now, one object per container, judged with its workload's
// history over a window chosen by field selector.
type terminationChecks struct {
	r   Reader
	now func() time.Time
}

var (
	_ rest.Lister               = (*terminationChecks)(nil)
	_ rest.Scoper               = (*terminationChecks)(nil)
	_ rest.KindProvider         = (*terminationChecks)(nil)
	_ rest.SingularNameProvider = (*terminationChecks)(nil)
)

func (*terminationChecks) New() runtime.Object     { return &v1alpha1.TerminationCheck{} }
func (*terminationChecks) NewList() runtime.Object { return &v1alpha1.TerminationCheckList{} }
func (*terminationChecks) Destroy()                {}
func (*terminationChecks) NamespaceScoped() bool   { return true }
func (*terminationChecks) Kind() string            { return "TerminationCheck" }
func (*terminationChecks) GetSingularName() string { return "terminationcheck" }
func (c *terminationChecks) ConvertToTable(ctx context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return checkTable(obj)
}

// List returns the checks of the request's namespace's running containers
// (every namespace's for -A), in the collector's order: namespace,
// workload, pod, container. The field selectors status.workload and
// status.pod narrow the query, and status.since or status.window set how
// far back the history goes (query.DefaultCheckHistory without either);
// the other selectors are then checked on each object.
func (c *terminationChecks) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	sel, now := fieldSelector(opts), c.now()
	f, err := checkFilter(sel, genericapirequest.NamespaceValue(ctx), now)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	others, err := without(sel, v1alpha1.FieldSince, v1alpha1.FieldWindow, v1alpha1.FieldWorkload, v1alpha1.FieldPod)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	checks, err := c.r.Check(ctx, f, now)
	if err != nil {
		return nil, apiError(err, v1alpha1.ResourceTerminationChecks, "")
	}
	list := &v1alpha1.TerminationCheckList{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "TerminationCheckList"}, Items: []v1alpha1.TerminationCheck{}}
	for _, ch := range checks {
		o := v1alpha1.ToTerminationCheck(ch)
		if opts != nil && opts.LabelSelector != nil && !opts.LabelSelector.Matches(labels.Set(o.Labels)) {
			continue
		}
		if others.Matches(fields.Set{"metadata.name": o.Name, "metadata.namespace": o.Namespace}) {
			list.Items = append(list.Items, *o)
		}
	}
	return list, nil
}

// checkFilter reads the query of a terminationchecks list from its field
// selector.
func checkFilter(sel fields.Selector, namespace string, now time.Time) (query.CheckFilter, error) {
	since, err := windowSince(sel, now, query.DefaultCheckHistory)
	if err != nil {
		return query.CheckFilter{}, err
	}
	f := query.CheckFilter{Namespace: namespace, Since: since}
	f.Pod, _ = sel.RequiresExactMatch(v1alpha1.FieldPod)
	if v, ok := sel.RequiresExactMatch(v1alpha1.FieldWorkload); ok {
		kind, name, err := v1alpha1.ParseWorkloadSelector(v)
		if err != nil {
			return query.CheckFilter{}, err
		}
		f.Workload = &apiv1.WorkloadRef{Kind: kind, Name: name}
	}
	return f, nil
}
