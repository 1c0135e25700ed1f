package deploy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"sigs.k8s.io/yaml"
)

// krewPlugin is the part of krew's Plugin manifest (v1alpha2) that krew
// needs to install the plugin.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		ShortDescription string `json:"shortDescription"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Files  []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
			Bin string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

// TestKrewManifest checks the krew manifest as krew would read it: its
// kind and name, the version of the release it installs (the chart's
// appVersion, what --version prints), and for each platform an archive of
// that version with a sha256 and both executables, the plugin and its
// completion.
func TestKrewManifest(t *testing.T) {
	b, err := os.ReadFile("krew/graceline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p krewPlugin
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatalf("krew/graceline.yaml is not valid YAML: %v", err)
	}
	chart, err := loader.Load("helm/graceline")
	if err != nil {
		t.Fatal(err)
	}
	want := "v" + chart.Metadata.AppVersion
	checks := []struct {
		name string
		ok   bool
	}{
		{"it is a krew Plugin of v1alpha2", p.APIVersion == "krew.googlecontainertools.github.com/v1alpha2" && p.Kind == "Plugin"},
		{"it is named graceline, the name after kubectl", p.Metadata.Name == "graceline"},
		{"its version is the chart's appVersion " + want + ", got " + p.Spec.Version, p.Spec.Version == want},
		{"it has a short description", p.Spec.ShortDescription != ""},
		{"it has platforms", len(p.Spec.Platforms) > 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: no", c.name)
		}
	}
	hex := regexp.MustCompile(`^[0-9a-f]{64}$`)
	seen := map[string]bool{}
	for _, pl := range p.Spec.Platforms {
		goos, arch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		key := goos + "/" + arch
		t.Run(key, func(t *testing.T) {
			if goos == "" || arch == "" || seen[key] {
				t.Errorf("selector %v: want one os and arch, once", pl.Selector.MatchLabels)
			}
			seen[key] = true
			if !strings.Contains(pl.URI, "/"+want+"/") || !strings.Contains(pl.URI, goos+"_"+arch) {
				t.Errorf("uri %s: want the %s release's archive for %s", pl.URI, want, key)
			}
			if !hex.MatchString(pl.SHA256) {
				t.Errorf("sha256 %q: want 64 hex digits", pl.SHA256)
			}
			var from []string
			for _, f := range pl.Files {
				from = append(from, f.From)
			}
			for _, f := range []string{"kubectl-graceline", "kubectl_complete-graceline"} {
				if !slices.Contains(from, f) {
					t.Errorf("files %v: want %s", from, f)
				}
			}
			if pl.Bin != "kubectl-graceline" {
				t.Errorf("bin %q, want kubectl-graceline", pl.Bin)
			}
		})
	}
	for _, key := range []string{"linux/amd64", "linux/arm64"} {
		if !seen[key] {
			t.Errorf("no platform %s, which the project builds", key)
		}
	}
}
