package cri

import (
	"testing"
)

func TestParseContainerMeta(t *testing.T) {
	ids := map[string]string{LabelPodNamespace: "ns", LabelPodName: "p", LabelPodUID: "u", LabelContainerName: "main"}
	cases := []struct {
		name         string
		labels       map[string]string
		annotations  map[string]string
		wantGrace    int64
		wantPreStop  bool
		wantRestarts int
		wantWarnKeys []string
	}{
		{
			name:        "the kubelet's annotations are parsed",
			labels:      ids,
			annotations: map[string]string{AnnotationTerminationGracePeriod: "30", AnnotationRestartCount: "2", AnnotationPreStopHandler: `{"exec":{"command":["sleep","1"]}}`},
			wantGrace:   30, wantPreStop: true, wantRestarts: 2,
		},
		{
			name:        "a deletion grace period wins over the spec's",
			labels:      ids,
			annotations: map[string]string{AnnotationTerminationGracePeriod: "30", AnnotationDeletionGracePeriod: "5"},
			wantGrace:   5,
		},
		{
			name:         "malformed values are unknown and warned about",
			labels:       ids,
			annotations:  map[string]string{AnnotationTerminationGracePeriod: "-1", AnnotationRestartCount: "x", AnnotationPreStopHandler: "{"},
			wantGrace:    -1,
			wantWarnKeys: []string{AnnotationTerminationGracePeriod, AnnotationPreStopHandler, AnnotationRestartCount},
		},
		{
			name:         "missing identity labels are warned about",
			labels:       map[string]string{},
			wantGrace:    -1,
			wantWarnKeys: []string{LabelPodNamespace, LabelPodName, LabelPodUID, LabelContainerName},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, ws := ParseContainerMeta(tc.labels, tc.annotations)
			if m.GracePeriod != tc.wantGrace || (m.PreStop != nil) != tc.wantPreStop || m.RestartCount != tc.wantRestarts {
				t.Errorf("meta = %+v", m)
			}
			var keys []string
			for _, w := range ws {
				keys = append(keys, w.Key)
			}
			if len(keys) != len(tc.wantWarnKeys) {
				t.Fatalf("warnings = %v, want keys %v", ws, tc.wantWarnKeys)
			}
			for i := range keys {
				if keys[i] != tc.wantWarnKeys[i] {
					t.Errorf("warning %d key = %s, want %s", i, keys[i], tc.wantWarnKeys[i])
				}
			}
		})
	}
}

func TestParseRuntime(t *testing.T) {
	cases := []struct {
		name, version string
		wantStream    bool
		wantErr       bool
	}{
		{"containerd", "1.6.20~ds1", false, false},
		{"containerd", "v1.7.27", false, false},
		{"containerd", "v2.4.2", true, false},
		{"containerd", "2.0.0-rc.1", true, false},
		{"cri-o", "1.31.0", true, false},
		{"containerd", "garbage", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name+" "+tc.version, func(t *testing.T) {
			rt, err := ParseRuntime(tc.name, tc.version)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if rt.EventStreamSafe() != tc.wantStream {
				t.Errorf("EventStreamSafe = %v, want %v", rt.EventStreamSafe(), tc.wantStream)
			}
		})
	}
}
