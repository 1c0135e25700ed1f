package deploy

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	corev1 "k8s.io/api/core/v1"
)

// TestChartRefusesBadValues checks that the chart's schema and templates
// stop a mistaken install before anything reaches the cluster.
func TestChartRefusesBadValues(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]any
		want   string // part of the error
	}{
		{"an unknown runtime is refused", map[string]any{"runtime": "docker"}, "runtime"},
		{"a misspelt value is refused", map[string]any{"agent": map[string]any{"memlok": true}}, "memlok"},
		{"an extra argument that is not a flag is refused", map[string]any{"agent": map[string]any{"extraArgs": []any{"ebpf=false"}}}, "extraArgs"},
		{"a priority above the user-defined range is refused", map[string]any{"agent": map[string]any{"priorityClass": map[string]any{"value": 2000000000}}}, "value"},
		{"creating the token Secrets without tokens is refused", map[string]any{"tokens": map[string]any{"create": true}}, "tokens.agent"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := renderHelmErr(c.values)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one about %q", err, c.want)
			}
		})
	}
}

func TestChartOptions(t *testing.T) {
	t.Run("the chart can create the token Secrets, the agent's with its own token only", func(t *testing.T) {
		out := renderHelm(t, map[string]any{"tokens": map[string]any{"create": true, "agent": "a-token", "reader": "r-token"}})
		objs, err := decodeStream(out)
		if err != nil {
			t.Fatal(err)
		}
		r := &rendering{objects: objs}
		agent, _ := r.find("Secret", "graceline-agent-token").(*corev1.Secret)
		coll, _ := r.find("Secret", "graceline-collector-tokens").(*corev1.Secret)
		if agent == nil || coll == nil {
			t.Fatalf("want both Secrets, got agent %v, collector %v", agent != nil, coll != nil)
		}
		if len(agent.StringData) != 1 || agent.StringData["token"] != "a-token" {
			t.Errorf("agent Secret holds %v, want only token=a-token", agent.StringData)
		}
		if got := coll.StringData["tokens"]; got != "agent a-token\nreader r-token\n" {
			t.Errorf("collector Secret holds %q", got)
		}
	})
	t.Run("extra flags reach the agent and the collector after the chart's own", func(t *testing.T) {
		out := renderHelm(t, map[string]any{
			"agent":     map[string]any{"extraArgs": []any{"--ebpf-signals=TERM,KILL,USR1"}},
			"collector": map[string]any{"extraArgs": []any{"--retention=72h"}},
		})
		objs, err := decodeStream(out)
		if err != nil {
			t.Fatal(err)
		}
		r := &rendering{objects: objs}
		if a := r.pod(agentName).Containers[0].Args; a[len(a)-1] != "--ebpf-signals=TERM,KILL,USR1" {
			t.Errorf("agent args %q", a)
		}
		if a := r.pod(collectorName).Containers[0].Args; a[len(a)-1] != "--retention=72h" {
			t.Errorf("collector args %q", a)
		}
	})
	t.Run("the chart's kubeVersion admits 1.30, the first with appArmorProfile, and not 1.29", func(t *testing.T) {
		ch, err := loader.Load(chartDir)
		if err != nil {
			t.Fatal(err)
		}
		for version, want := range map[string]bool{"v1.29.9": false, "v1.30.0": true, "v1.37.2": true} {
			if got := chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, version); got != want {
				t.Errorf("%s compatible: %v, want %v", version, got, want)
			}
		}
	})
	t.Run("the chart's appVersion is the tag the kustomize base runs", func(t *testing.T) {
		ch, err := loader.Load(chartDir)
		if err != nil {
			t.Fatal(err)
		}
		r := render(t, "kustomize", variants[0])
		for _, name := range []string{agentName, collectorName} {
			if img := r.pod(name).Containers[0].Image; !strings.HasSuffix(img, ":"+ch.Metadata.AppVersion) {
				t.Errorf("%s runs %s, chart appVersion is %s", name, img, ch.Metadata.AppVersion)
			}
		}
	})
}
