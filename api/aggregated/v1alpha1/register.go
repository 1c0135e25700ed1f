package v1alpha1

import (
	"net/url"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group the collector serves.
const GroupName = "graceline.dev"

// SchemeGroupVersion is the served group and version.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resources, as they appear in the API's paths.
const (
	ResourcePodTerminations   = "podterminations"
	ResourceStuckPods         = "stuckpods"
	ResourceWorkloadReports   = "workloadreports"
	ResourceTerminationChecks = "terminationchecks"
	SubresourceTimeline       = "timeline"
)

// Field selectors accepted by the podterminations and stuckpods lists and
// watches, besides metadata.name and metadata.namespace.
const (
	FieldVerdict  = "status.verdict"
	FieldNodeName = "status.nodeName"
)

// Field selectors that set the window of a workloadreports list: its start
// as an RFC 3339 time (status.since, what a report object carries), or its
// length back from now as a duration such as 1h or 168h (status.window).
// Without either the window is DefaultReportWindow.
const (
	FieldSince  = "status.since"
	FieldWindow = "status.window"
)

// Field selectors that narrow a terminationchecks list to one owner
// workload, as <kind>/<name> with the kind in any case
// (status.workload=Deployment/web), or to one pod by name
// (status.pod=web-0); both need a namespace. status.since and
// status.window set how far back the history of past terminations goes;
// without either the collector's default of seven days holds.
const (
	FieldWorkload = "status.workload"
	FieldPod      = "status.pod"
)

// DefaultReportWindow is a report's window when none is asked for: a day
// covers a night's incidents and the day's rollouts.
const DefaultReportWindow = 24 * time.Hour

// ParamUID is the timeline subresource's query parameter that picks a pod
// by uid (TimelineOptions.UID).
const ParamUID = "uid"

// Labels every PodTermination carries, so that label selectors (and tools
// that know only labels) can pick a verdict or a node. A StuckPod carries
// LabelNode. A node name longer than a label value may be (63 characters)
// is left out of the label; the field selector status.nodeName still
// selects it.
const (
	LabelVerdict = "graceline.dev/verdict"
	LabelNode    = "graceline.dev/node"
)

// AddToScheme registers the served types, with the meta types a client
// and a server of the group speak (ListOptions, WatchEvent, Status).
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion,
		&PodTermination{}, &PodTerminationList{}, &PodTerminationTimeline{},
		&StuckPod{}, &StuckPodList{},
		&WorkloadReport{}, &WorkloadReportList{},
		&TerminationCheck{}, &TerminationCheckList{},
		&TimelineOptions{},
	)
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	// The API server reads a subresource's options from the query string
	// by converting url.Values into them.
	return s.AddConversionFunc((*url.Values)(nil), (*TimelineOptions)(nil), func(a, b any, _ conversion.Scope) error {
		b.(*TimelineOptions).UID = a.(*url.Values).Get(ParamUID)
		return nil
	})
}
