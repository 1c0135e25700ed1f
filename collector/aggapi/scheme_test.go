package aggapi

import (
	"testing"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
)

func TestFieldSelectorsAreKnownToTheScheme(t *testing.T) {
	scheme, _, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, kind, label string
		ok                bool
	}{
		{"a check's workload selector is accepted", "TerminationCheck", v1alpha1.FieldWorkload, true},
		{"a check's pod selector is accepted", "TerminationCheck", v1alpha1.FieldPod, true},
		{"a check's history window is accepted", "TerminationCheck", v1alpha1.FieldWindow, true},
		{"a check's history start is accepted", "TerminationCheck", v1alpha1.FieldSince, true},
		{"a check's name is accepted", "TerminationCheck", "metadata.name", true},
		{"a termination's verdict is refused for a check", "TerminationCheck", v1alpha1.FieldVerdict, false},
		{"a termination's verdict is accepted", "PodTermination", v1alpha1.FieldVerdict, true},
		{"a stuck pod's node is accepted", "StuckPod", v1alpha1.FieldNodeName, true},
		{"a report's window is accepted", "WorkloadReport", v1alpha1.FieldWindow, true},
		{"a workload is refused for a report", "WorkloadReport", v1alpha1.FieldWorkload, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gvk := v1alpha1.SchemeGroupVersion.WithKind(tc.kind)
			if _, _, err := scheme.ConvertFieldLabel(gvk, tc.label, "x"); (err == nil) != tc.ok {
				t.Errorf("convert %s of %s: %v, want accepted=%v", tc.label, tc.kind, err, tc.ok)
			}
		})
	}
}
