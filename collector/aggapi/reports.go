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
)

// workloadReports serves workloadreports: the collector's report, one
// object per owner workload, over a window chosen by field selector.
type workloadReports struct {
	r   Reader
	now func() time.Time
}

var (
	_ rest.Lister               = (*workloadReports)(nil)
	_ rest.Scoper               = (*workloadReports)(nil)
	_ rest.KindProvider         = (*workloadReports)(nil)
	_ rest.SingularNameProvider = (*workloadReports)(nil)
)

func (*workloadReports) New() runtime.Object     { return &v1alpha1.WorkloadReport{} }
func (*workloadReports) NewList() runtime.Object { return &v1alpha1.WorkloadReportList{} }
func (*workloadReports) Destroy()                {}
func (*workloadReports) NamespaceScoped() bool   { return true }
func (*workloadReports) Kind() string            { return "WorkloadReport" }
func (*workloadReports) GetSingularName() string { return "workloadreport" }
func (w *workloadReports) ConvertToTable(ctx context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return reportTable(obj)
}

// List returns the reports of the request's namespace's workloads (every
// namespace's for -A) over the window of the field selector: status.since
// (an RFC 3339 time) or status.window (a duration back from now), else
// v1alpha1.DefaultReportWindow. The other selectors are then checked on
// each object.
func (w *workloadReports) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	sel := fieldSelector(opts)
	since, err := windowSince(sel, w.now(), v1alpha1.DefaultReportWindow)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	reports, err := w.r.Report(ctx, genericapirequest.NamespaceValue(ctx), since)
	if err != nil {
		return nil, apiError(err, v1alpha1.ResourceWorkloadReports, "")
	}
	// The window's fields chose the query; they are no property to match.
	others, err := without(sel, v1alpha1.FieldSince, v1alpha1.FieldWindow)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	list := &v1alpha1.WorkloadReportList{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "WorkloadReportList"}, Items: []v1alpha1.WorkloadReport{}}
	for _, r := range reports {
		o := v1alpha1.ToWorkloadReport(r, since)
		if opts != nil && opts.LabelSelector != nil && !opts.LabelSelector.Matches(labels.Set(o.Labels)) {
			continue
		}
		if others.Matches(fields.Set{"metadata.name": o.Name, "metadata.namespace": o.Namespace}) {
			list.Items = append(list.Items, *o)
		}
	}
	return list, nil
}
