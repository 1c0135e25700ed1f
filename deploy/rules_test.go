package deploy

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// rulesFile and dashboardFile are the one home of graceline's alerts and
// dashboard; rulesTests are promtool's fixtures for the alerts.
const (
	rulesFile     = chartDir + "/files/prometheus-rules.yaml"
	dashboardFile = chartDir + "/files/grafana-dashboard.json"
	rulesTests    = "testdata/prometheus-rules-tests.yaml"
)

// promtool finds Debian's promtool (package prometheus, installed by
// hack/install-deps.sh). Missing, it fails the test: skipping would let
// broken rules pass unseen.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): run hack/install-deps.sh, which installs Debian's prometheus package", err)
	}
	return p
}

// TestShippedRules runs promtool on the shipped rules: they must be valid,
// and each alert must fire on the fixtures made to fire it and stay quiet
// on the others.
func TestShippedRules(t *testing.T) {
	bin := promtool(t)
	for _, tc := range []struct {
		name string
		args []string
		dir  string
	}{
		{"promtool check rules accepts the shipped rules", []string{"check", "rules", rulesFile}, "."},
		{"promtool test rules passes every fixture", []string{"test", "rules", filepath.Base(rulesTests)}, filepath.Dir(rulesTests)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Dir = tc.dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %v: %v\n%s", tc.args, err, out)
			}
		})
	}
}
