package aggapi

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
)

// newScheme returns the scheme of the served types, with the meta types
// every API server speaks (Status, ListOptions, Table) and the field
// selectors each list accepts.
func newScheme() (*runtime.Scheme, serializer.CodecFactory, error) {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, serializer.CodecFactory{}, fmt.Errorf("register the %s types: %w", v1alpha1.GroupName, err)
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	for kind, fields := range selectable {
		err := s.AddFieldLabelConversionFunc(v1alpha1.SchemeGroupVersion.WithKind(kind), func(label, value string) (string, string, error) {
			if label != "metadata.name" && label != "metadata.namespace" && !slices.Contains(fields, label) {
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

// selectable are the field selectors each kind's list accepts besides
// metadata.name and metadata.namespace: the API server refuses any other
// before the list is asked.
var selectable = map[string][]string{
	"PodTermination":   {v1alpha1.FieldVerdict, v1alpha1.FieldNodeName},
	"StuckPod":         {v1alpha1.FieldVerdict, v1alpha1.FieldNodeName},
	"WorkloadReport":   {v1alpha1.FieldSince, v1alpha1.FieldWindow},
	"TerminationCheck": {v1alpha1.FieldSince, v1alpha1.FieldWindow, v1alpha1.FieldWorkload, v1alpha1.FieldPod},
}
