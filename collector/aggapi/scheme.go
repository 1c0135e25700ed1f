package aggapi

import (
	"fmt"

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
	fields := map[string]bool{"metadata.name": true, "metadata.namespace": true, v1alpha1.FieldVerdict: true, v1alpha1.FieldNodeName: true}
	for _, kind := range []string{"PodTermination", "StuckPod"} {
		err := s.AddFieldLabelConversionFunc(v1alpha1.SchemeGroupVersion.WithKind(kind), func(label, value string) (string, string, error) {
			if !fields[label] {
				return "", "", fmt.Errorf("field label not supported: %s", label)
			}
			return label, value, nil
		})
		if err != nil {
			return nil, serializer.CodecFactory{}, fmt.Errorf("register field selectors of %s: %w", kind, err)
		}
	}
	reportFields := map[string]bool{"metadata.name": true, "metadata.namespace": true, v1alpha1.FieldSince: true, v1alpha1.FieldWindow: true}
	err := s.AddFieldLabelConversionFunc(v1alpha1.SchemeGroupVersion.WithKind("WorkloadReport"), func(label, value string) (string, string, error) {
		if !reportFields[label] {
			return "", "", fmt.Errorf("field label not supported: %s", label)
		}
		return label, value, nil
	})
	if err != nil {
		return nil, serializer.CodecFactory{}, fmt.Errorf("register field selectors of WorkloadReport: %w", err)
	}
	return s, serializer.NewCodecFactory(s), nil
}
