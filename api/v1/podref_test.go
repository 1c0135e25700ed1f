package apiv1

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

func TestNewPodRef(t *testing.T) {
	tests := []struct {
		name                string
		namespace, pod, uid string
		want                *PodRef
	}{
		{"Nothing known gives no reference.", "", "", "", nil},
		{"A full reference keeps all three parts.", "ns", "web", "u1", &PodRef{Namespace: "ns", Name: "web", Uid: "u1"}},
		{"A reference without a UID keeps the name.", "ns", "web", "", &PodRef{Namespace: "ns", Name: "web"}},
		{"A reference with only a UID keeps it.", "", "", "u1", &PodRef{Uid: "u1"}},
		{"A reference with only a namespace keeps it.", "ns", "", "", &PodRef{Namespace: "ns"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NewPodRef(tc.namespace, tc.pod, tc.uid)
			if (got == nil) != (tc.want == nil) || !proto.Equal(got, tc.want) {
				t.Errorf("NewPodRef(%q, %q, %q) = %v, want %v", tc.namespace, tc.pod, tc.uid, got, tc.want)
			}
		})
	}
}
