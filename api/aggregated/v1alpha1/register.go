package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group the collector serves.
const GroupName = "graceline.dev"

// SchemeGroupVersion is the served group and version.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resources, as they appear in the API's paths.
const (
	ResourcePodTerminations = "podterminations"
	ResourceStuckPods       = "stuckpods"
	SubresourceTimeline     = "timeline"
)

// Field selectors accepted by the podterminations and stuckpods lists and
// watches, besides metadata.name and metadata.namespace.
const (
	FieldVerdict  = "status.verdict"
	FieldNodeName = "status.nodeName"
)

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
	)
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
