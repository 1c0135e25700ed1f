// Package deploy holds graceline's manifests (a kustomize base with
// overlays and components, and a Helm chart) and the tests that render
// them as kubectl and helm would, decode every object strictly, and check
// their security posture, their wiring and that both forms agree.
package deploy

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	// namespace is where both forms put graceline.
	namespace = "graceline"
	chartDir  = "helm/graceline"
)

// A variant is one way to install graceline, written once for kustomize
// (an overlay plus components) and once for Helm (values), which must give
// the same objects.
type variant struct {
	name       string
	overlay    string
	components []string
	values     map[string]any
	// What the variant changes, for the checks.
	runtimeDir string
	memlock    bool
	tls        bool
	// monitoring: the PodMonitors, the PrometheusRule and the dashboard.
	monitoring bool
	// cniDirs, when set, replaces defaultCNIBinDirs.
	cniDirs []string
	// patches, when set, are added to the kustomization as its patches:
	// the form deploy/README.md gives for what has no component.
	patches string
	// The namespaces, besides graceline, that the collector's
	// NetworkPolicy lets query it and scrape its metrics.
	queryNamespaces, metricsNamespaces []string
}

// defaultCNIBinDirs are the agent's own --cni-bin-dir default, which both
// forms pass and mount unless a variant narrows them.
var defaultCNIBinDirs = []string{"/opt/cni/bin", "/usr/libexec/cni", "/usr/lib/cni"}

// cniBinDirs returns the CNI bin directories the variant's agent follows.
func (v variant) cniBinDirs() []string {
	if v.cniDirs != nil {
		return v.cniDirs
	}
	return defaultCNIBinDirs
}

var variants = []variant{
	{name: "containerd", overlay: "containerd", runtimeDir: "/run/containerd"},
	{name: "CRI-O", overlay: "crio", values: map[string]any{"runtime": "crio"}, runtimeDir: "/var/run/crio"},
	{name: "containerd with memlock", overlay: "containerd", components: []string{"memlock"},
		values: map[string]any{"agent": map[string]any{"memlock": true}}, runtimeDir: "/run/containerd", memlock: true},
	{name: "CRI-O with TLS", overlay: "crio", components: []string{"tls"},
		values: map[string]any{"runtime": "crio", "tls": map[string]any{"enabled": true}}, runtimeDir: "/var/run/crio", tls: true},
	// TLS first, so that its mounts, appended after the CNI ones, show
	// that narrowing them does not depend on the components' order.
	{name: "CRI-O with TLS and CNI plugins in /opt/cni/bin only", overlay: "crio", components: []string{"tls", "cni-opt-bin-only"},
		values:     map[string]any{"runtime": "crio", "tls": map[string]any{"enabled": true}, "agent": map[string]any{"cniBinDirs": []any{"/opt/cni/bin"}}},
		runtimeDir: "/var/run/crio", tls: true, cniDirs: []string{"/opt/cni/bin"}},
	{name: "containerd with monitoring", overlay: "containerd", components: []string{"monitoring"},
		values: map[string]any{"monitoring": map[string]any{
			"podMonitor": map[string]any{"enabled": true}, "prometheusRule": map[string]any{"enabled": true}, "dashboard": map[string]any{"enabled": true},
		}},
		runtimeDir: "/run/containerd", monitoring: true},
	{name: "containerd with more query and metrics namespaces", overlay: "containerd", patches: networkPolicyPatch,
		values: map[string]any{"collector": map[string]any{"networkPolicy": map[string]any{
			"queryNamespaces": []any{"team-a", "team-b"}, "metricsNamespaces": []any{"monitoring"},
		}}},
		runtimeDir: "/run/containerd", queryNamespaces: []string{"team-a", "team-b"}, metricsNamespaces: []string{"monitoring"}},
}

// networkPolicyPatch is deploy/README.md's patch that adds namespaces to
// the collector's NetworkPolicy, with two query namespaces and one
// metrics namespace.
const networkPolicyPatch = `  - target:
      group: networking.k8s.io
      version: v1
      kind: NetworkPolicy
      name: graceline-collector
    patch: |-
      - op: test
        path: /spec/ingress/1/ports/1/port
        value: http
      - op: add
        path: /spec/ingress/1/from/0/namespaceSelector/matchExpressions/0/values/-
        value: team-a
      - op: add
        path: /spec/ingress/1/from/0/namespaceSelector/matchExpressions/0/values/-
        value: team-b
      - op: test
        path: /spec/ingress/2/ports/0/port
        value: http
      - op: add
        path: /spec/ingress/2/from/0/namespaceSelector/matchExpressions/0/values/-
        value: monitoring
`

// A rendering is what one tool made of one variant.
type rendering struct {
	tool    string // "kustomize" or "helm"
	variant variant
	objects []object
}

// renderings renders every variant with both tools, once per test binary.
var renderings = map[string]*rendering{}

func render(t *testing.T, tool string, v variant) *rendering {
	t.Helper()
	key := tool + "/" + v.name
	if r, ok := renderings[key]; ok {
		return r
	}
	var stream []byte
	switch tool {
	case "kustomize":
		stream = renderKustomize(t, v.overlay, v.components, v.patches)
	case "helm":
		stream = renderHelm(t, v.values)
	default:
		t.Fatalf("unknown tool %q", tool)
	}
	objs, err := decodeStream(stream)
	if err != nil {
		t.Fatalf("%s, %s: %v", tool, v.name, err)
	}
	r := &rendering{tool: tool, variant: v, objects: objs}
	renderings[key] = r
	return r
}

// tools are the two ways the manifests are rendered.
var tools = []string{"kustomize", "helm"}

// eachRendering runs f in a subtest per variant and tool, so that one that
// fails to render fails only its own subtests.
func eachRendering(t *testing.T, f func(t *testing.T, r *rendering)) {
	t.Helper()
	for _, v := range variants {
		for _, tool := range tools {
			t.Run(tool+", "+v.name, func(t *testing.T) { f(t, render(t, tool, v)) })
		}
	}
}

func (r *rendering) String() string { return r.tool + ", " + r.variant.name }

// renderKustomize builds an overlay as kubectl apply -k would. The tree is
// copied into an in-memory filesystem, so that components and patches are
// added by a kustomization written next to the real ones, never onto the
// disk.
func renderKustomize(t *testing.T, overlay string, components []string, patches string) []byte {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir("kustomize", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+filepath.ToSlash(p), b)
	})
	if err != nil {
		t.Fatalf("copy the kustomize tree: %v", err)
	}
	dir := path.Join("/kustomize/overlays", overlay)
	if len(components) > 0 || patches != "" {
		dir = "/kustomize/overlays/test-" + strings.Join(append([]string{overlay}, components...), "-")
		k := "resources:\n  - ../" + overlay + "\n"
		if len(components) > 0 {
			k += "components:\n"
		}
		for _, c := range components {
			k += "  - ../../components/" + c + "\n"
		}
		if patches != "" {
			k += "patches:\n" + patches
		}
		if err := mem.WriteFile(dir+"/kustomization.yaml", []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return out
}

// renderHelm renders the chart as `helm template --namespace graceline`
// would: values coalesced with the chart's and checked against its schema,
// templates run in strict mode (a missing value is an error), NOTES.txt
// left out.
func renderHelm(t *testing.T, values map[string]any) []byte {
	t.Helper()
	out, err := renderHelmErr(values)
	if err != nil {
		t.Fatalf("render the chart: %v", err)
	}
	return out
}

func renderHelmErr(values map[string]any) ([]byte, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	if values == nil {
		values = map[string]any{}
	}
	opts := chartutil.ReleaseOptions{Name: "graceline", Namespace: namespace, Revision: 1, IsInstall: true}
	vals, err := chartutil.ToRenderValues(ch, values, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.Render(ch, vals)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if !strings.HasSuffix(name, "NOTES.txt") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteString("---\n# Source: " + name + "\n" + files[name] + "\n")
	}
	return []byte(b.String()), nil
}
