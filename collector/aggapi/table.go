package aggapi

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
)

// terminationColumns are what `kubectl get podterminations` prints; -o wide
// adds the columns of priority 1.
var terminationColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "The pod's name."},
	{Name: "Verdict", Type: "string", Description: "graceful, killed or stuck."},
	{Name: "Duration", Type: "string", Description: "How long the termination took, from its first phase to its last."},
	{Name: "Cause", Type: "string", Description: "Why the pod's containers ended the way they did."},
	{Name: "Node", Type: "string", Priority: 1, Description: "The node the pod ran on."},
	{Name: "Initiator", Type: "string", Priority: 1, Description: "Who asked for the termination."},
	{Name: "Age", Type: "string", Description: "How long ago the termination began."},
}

// stuckColumns are what `kubectl get stuckpods` prints.
var stuckColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "The pod's name."},
	{Name: "Blocking", Type: "string", Description: "The phase the termination hangs in."},
	{Name: "Stuck", Type: "string", Description: "How long it has been stuck."},
	{Name: "Node", Type: "string", Priority: 1, Description: "The node the pod ran on."},
	{Name: "Evidence", Type: "string", Priority: 1, Description: "The first piece of evidence."},
}

// terminationTable converts one v1alpha1.PodTermination or a list into a table.
func terminationTable(obj runtime.Object) (*metav1.Table, error) {
	var items []v1alpha1.PodTermination
	table := &metav1.Table{ColumnDefinitions: terminationColumns}
	switch o := obj.(type) {
	case *v1alpha1.PodTermination:
		items = []v1alpha1.PodTermination{*o}
	case *v1alpha1.PodTerminationList:
		items = o.Items
	default:
		return nil, fmt.Errorf("convert %T to a table: not a v1alpha1.PodTermination", obj)
	}
	if err := listMeta(obj, table); err != nil {
		return nil, err
	}
	for i := range items {
		p := &items[i]
		d := "<unknown>"
		if p.Status.Duration != nil {
			d = p.Status.Duration.Duration.Round(time.Millisecond).String()
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  []any{p.Name, p.Status.Verdict, d, p.Status.Cause, p.Status.NodeName, p.Status.Initiator, age(p.CreationTimestamp)},
			Object: runtime.RawExtension{Object: p},
		})
	}
	return table, nil
}

// stuckTable converts one v1alpha1.StuckPod or a list into a table.
func stuckTable(obj runtime.Object) (*metav1.Table, error) {
	var items []v1alpha1.StuckPod
	table := &metav1.Table{ColumnDefinitions: stuckColumns}
	switch o := obj.(type) {
	case *v1alpha1.StuckPod:
		items = []v1alpha1.StuckPod{*o}
	case *v1alpha1.StuckPodList:
		items = o.Items
	default:
		return nil, fmt.Errorf("convert %T to a table: not a v1alpha1.StuckPod", obj)
	}
	if err := listMeta(obj, table); err != nil {
		return nil, err
	}
	for i := range items {
		p := &items[i]
		since, evidence := "<unknown>", ""
		if p.Status.Since != nil {
			since = age(*p.Status.Since)
		}
		if len(p.Status.Evidence) > 0 {
			evidence = p.Status.Evidence[0]
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  []any{p.Name, p.Status.BlockingPhase, since, p.Status.NodeName, evidence},
			Object: runtime.RawExtension{Object: p},
		})
	}
	return table, nil
}

// listMeta copies a list's metadata into its table, as the API server's
// own tables do.
func listMeta(obj runtime.Object, table *metav1.Table) error {
	if !meta.IsListType(obj) {
		return nil
	}
	m, err := meta.ListAccessor(obj)
	if err != nil {
		return fmt.Errorf("read list metadata: %w", err)
	}
	table.ResourceVersion, table.Continue = m.GetResourceVersion(), m.GetContinue()
	return nil
}

func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

// reportColumns are what `kubectl get workloadreports` prints, the same
// numbers as `kubectl graceline report`.
var reportColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "The workload, as <kind>.<name>."},
	{Name: "Terminations", Type: "integer", Description: "Pods whose deletion was requested in the window."},
	{Name: "Killed", Type: "integer", Description: "Finished pods that needed SIGKILL."},
	{Name: "P50", Type: "string", Description: "Median time from the delete request to the object's removal."},
	{Name: "P95", Type: "string", Description: "95th percentile of that time."},
	{Name: "Stuck", Type: "integer", Description: "Pods reported stuck at least once."},
	{Name: "Cause", Type: "string", Description: "The most common cause of the pods' main containers."},
	{Name: "Finished", Type: "integer", Priority: 1, Description: "Pods whose final summary is stored."},
	{Name: "Risk", Type: "integer", Priority: 1, Description: "Finished pods signalled while an endpoint still offered them."},
}

// reportTable converts one v1alpha1.WorkloadReport or a list into a table.
func reportTable(obj runtime.Object) (*metav1.Table, error) {
	var items []v1alpha1.WorkloadReport
	table := &metav1.Table{ColumnDefinitions: reportColumns}
	switch o := obj.(type) {
	case *v1alpha1.WorkloadReport:
		items = []v1alpha1.WorkloadReport{*o}
	case *v1alpha1.WorkloadReportList:
		items = o.Items
	default:
		return nil, fmt.Errorf("convert %T to a table: not a v1alpha1.WorkloadReport", obj)
	}
	if err := listMeta(obj, table); err != nil {
		return nil, err
	}
	for i := range items {
		r := &items[i]
		p50, p95 := "<none>", "<none>"
		if r.Status.Finished > 0 && r.Status.DurationP50 != nil && r.Status.DurationP95 != nil {
			p50 = r.Status.DurationP50.Duration.Round(time.Millisecond).String()
			p95 = r.Status.DurationP95.Duration.Round(time.Millisecond).String()
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  []any{r.Name, r.Status.Terminations, r.Status.Killed, p50, p95, r.Status.Stuck, r.Status.Cause, r.Status.Finished, r.Status.TrafficRisk},
			Object: runtime.RawExtension{Object: r},
		})
	}
	return table, nil
}

// checkColumns are what `kubectl get terminationchecks` prints: the facts
// of `kubectl graceline check` that fit a row. The object's name is the pod
// and container joined, which the first two columns already say.
var checkColumns = []metav1.TableColumnDefinition{
	{Name: "Pod", Type: "string", Description: "The running pod."},
	{Name: "Container", Type: "string", Description: "The container."},
	{Name: "Workload", Type: "string", Description: "The pod's owner workload, as <kind>/<name>."},
	{Name: "PID1", Type: "string", Description: "The container's init process, as <comm>(<pid>)."},
	{Name: "Disposition", Type: "string", Description: "What the init process does with the stop signal."},
	{Name: "Predicted", Type: "string", Description: "How a stop would end: graceful, killed or unknown."},
	{Name: "Cause", Type: "string", Description: "The cause the termination would be given."},
	{Name: "Age", Type: "string", Description: "How long ago the node read the container."},
}

// checkTable converts one v1alpha1.TerminationCheck or a list into a table.
func checkTable(obj runtime.Object) (*metav1.Table, error) {
	var items []v1alpha1.TerminationCheck
	table := &metav1.Table{ColumnDefinitions: checkColumns}
	switch o := obj.(type) {
	case *v1alpha1.TerminationCheck:
		items = []v1alpha1.TerminationCheck{*o}
	case *v1alpha1.TerminationCheckList:
		items = o.Items
	default:
		return nil, fmt.Errorf("convert %T to a table: not a v1alpha1.TerminationCheck", obj)
	}
	if err := listMeta(obj, table); err != nil {
		return nil, err
	}
	for i := range items {
		c := &items[i]
		workload, pid1, predicted, cause := "<none>", "<unknown>", "<unknown>", "<unknown>"
		if c.Status.WorkloadKind != "" {
			workload = v1alpha1.WorkloadSelector(c.Status.WorkloadKind, c.Status.WorkloadName)
		}
		if ps := c.Status.Readiness.Processes; len(ps) > 0 {
			pid1 = fmt.Sprintf("%s(%d)", ps[0].Comm, ps[0].PID)
		}
		if p := c.Status.Prediction; p != nil {
			predicted, cause = p.Outcome, p.Cause
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  []any{c.Status.PodName, c.Status.Container, workload, pid1, c.Status.Readiness.Disposition, predicted, cause, age(c.CreationTimestamp)},
			Object: runtime.RawExtension{Object: c},
		})
	}
	return table, nil
}
