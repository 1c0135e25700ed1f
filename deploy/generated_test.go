package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// monitoringDir is the kustomize component whose rule and dashboard are
// generated from the chart's files, their one home: kustomize cannot read
// files outside a component, nor Helm outside its chart.
const monitoringDir = "kustomize/components/monitoring"

// generated lists each generated file with what it is made from.
var generated = []struct {
	target, source string
	wrap           func(source []byte) []byte
}{
	{monitoringDir + "/prometheusrule.yaml", rulesFile, func(src []byte) []byte {
		return []byte(generatedHeader(rulesFile) + `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: graceline
  namespace: graceline
  labels:
    app.kubernetes.io/part-of: graceline
spec:
` + indent(src, "  "))
	}},
	{monitoringDir + "/dashboard.yaml", dashboardFile, func(src []byte) []byte {
		return []byte(generatedHeader(dashboardFile) + `apiVersion: v1
kind: ConfigMap
metadata:
  name: graceline-dashboard
  namespace: graceline
  labels:
    app.kubernetes.io/part-of: graceline
    grafana_dashboard: "1"
data:
  graceline.json: |-
` + indent(src, "    "))
	}},
}

func generatedHeader(source string) string {
	return "# Generated from deploy/" + source + " by `make generate`\n# (deploy/generated_test.go). DO NOT EDIT: edit the source.\n"
}

// indent prefixes every non-empty line of b.
func indent(b []byte, prefix string) string {
	var out strings.Builder
	for _, line := range strings.SplitAfter(string(bytes.TrimRight(b, "\n"))+"\n", "\n") {
		if strings.TrimSpace(line) != "" {
			out.WriteString(prefix)
		}
		out.WriteString(line)
	}
	return out.String()
}

// TestMonitoringComponentIsGenerated fails when a generated file differs
// from what its source makes. GRACELINE_UPDATE_GENERATED=1 (make generate)
// writes them instead.
func TestMonitoringComponentIsGenerated(t *testing.T) {
	update := os.Getenv("GRACELINE_UPDATE_GENERATED") == "1"
	for _, g := range generated {
		t.Run(filepath.Base(g.target)+" is made from "+g.source, func(t *testing.T) {
			src, err := os.ReadFile(g.source)
			if err != nil {
				t.Fatal(err)
			}
			want := g.wrap(src)
			if update {
				if err := os.WriteFile(g.target, want, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			got, err := os.ReadFile(g.target)
			if err != nil {
				t.Fatalf("%v: run make generate", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("deploy/%s is stale: run make generate and commit it", g.target)
			}
		})
	}
}
