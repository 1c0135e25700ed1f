package aggapi

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// GroupName is the API group the collector serves.
const GroupName = "graceline.dev"

// SchemeGroupVersion is the served group and version.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Field selectors accepted by the podterminations and stuckpods lists,
// besides metadata.name and metadata.namespace.
const (
	FieldVerdict  = "status.verdict"
	FieldNodeName = "status.nodeName"
)

// newScheme returns the scheme of the served types, with the meta types
// every API server speaks (Status, ListOptions, Table) and the field
// selectors each list accepts.
func newScheme() (*runtime.Scheme, serializer.CodecFactory, error) {
	s := runtime.NewScheme()
	s.AddKnownTypes(SchemeGroupVersion,
		&PodTermination{}, &PodTerminationList{}, &PodTerminationTimeline{},
		&StuckPod{}, &StuckPodList{},
	)
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	fields := map[string]bool{"metadata.name": true, "metadata.namespace": true, FieldVerdict: true, FieldNodeName: true}
	for _, kind := range []string{"PodTermination", "StuckPod"} {
		err := s.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind(kind), func(label, value string) (string, string, error) {
			if !fields[label] {
				return "", "", fmt.Errorf("field label not supported: %s", label)
			}
			return label, value, nil
		})
		if err != nil {
			return nil, serializer.CodecFactory{}, fmt.Errorf("register field selectors of %s: %w", kind, err)
		}
	}
	return s, serializer.NewCodecFactory(s), nil
}
