package deploy

import (
	"slices"
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
		{"creating the token Secrets without tokens is refused", map[string]any{"tokens": map[string]any{"create": true}}, "tokens.reader"},
		{"creating the token Secrets without the cluster side and without an agent token is refused", map[string]any{
			"tokens": map[string]any{"create": true, "reader": "r-token"}, "collector": map[string]any{"kubernetes": map[string]any{"enabled": false}},
		}, "tokens.agent"},
		{"a relative CNI bin dir is refused", map[string]any{"agent": map[string]any{"cniBinDirs": []any{"opt/cni/bin"}}}, "cniBinDirs"},
		{"a CNI bin dir with a comma, which would split the flag, is refused", map[string]any{"agent": map[string]any{"cniBinDirs": []any{"/opt/cni/bin,/x"}}}, "cniBinDirs"},
		{"a CNI bin dir listed twice, which would mount one path twice, is refused", map[string]any{"agent": map[string]any{"cniBinDirs": []any{"/opt/cni/bin", "/opt/cni/bin"}}}, "cniBinDirs"},
		{"the host's root as a CNI bin dir is refused", map[string]any{"agent": map[string]any{"cniBinDirs": []any{"/"}}}, "cniBinDirs"},
		{"a cluster side neither on nor off is refused", map[string]any{"collector": map[string]any{"kubernetes": map[string]any{"enabled": "auto"}}}, "enabled"},
		{"a query namespace that is no namespace name is refused", networkPolicyValues("queryNamespaces", []any{"Team_A"}), "queryNamespaces"},
		{"a query namespace longer than a DNS label is refused", networkPolicyValues("queryNamespaces", []any{strings.Repeat("a", 64)}), "queryNamespaces"},
		{"a metrics namespace listed twice is refused", networkPolicyValues("metricsNamespaces", []any{"monitoring", "monitoring"}), "metricsNamespaces"},
		{"a single namespace given as a string, not a list, is refused", networkPolicyValues("metricsNamespaces", "monitoring"), "metricsNamespaces"},
		{"a policy neither on nor off is refused", networkPolicyValues("enabled", "yes"), "enabled"},
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

// networkPolicyValues sets one value under collector.networkPolicy.
func networkPolicyValues(key string, value any) map[string]any {
	return map[string]any{"collector": map[string]any{"networkPolicy": map[string]any{key: value}}}
}

func TestChartOptions(t *testing.T) {
	t.Run("the chart can create the collector's token Secret, with no agent token beside node-bound ones", func(t *testing.T) {
		out := renderHelm(t, map[string]any{"tokens": map[string]any{"create": true, "reader": "r-token"}})
		objs, err := decodeStream(out)
		if err != nil {
			t.Fatal(err)
		}
		r := &rendering{objects: objs}
		if agent := r.find("Secret", "graceline-agent-token"); agent != nil {
			t.Error("the agents' static token Secret is rendered, though agents use node-bound tokens")
		}
		coll, _ := r.find("Secret", "graceline-collector-tokens").(*corev1.Secret)
		if coll == nil || coll.StringData["tokens"] != "reader r-token\n" {
			t.Errorf("collector Secret %v, want only the reader token", coll)
		}
	})
	t.Run("without the cluster side the chart can create both token Secrets, the agent's with its own token only", func(t *testing.T) {
		out := renderHelm(t, map[string]any{
			"tokens":    map[string]any{"create": true, "agent": "a-token", "reader": "r-token"},
			"collector": map[string]any{"kubernetes": map[string]any{"enabled": false}},
		})
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
	t.Run("without CNI bin dirs the agent follows none and mounts none", func(t *testing.T) {
		objs, err := decodeStream(renderHelm(t, map[string]any{"agent": map[string]any{"cniBinDirs": []any{}}}))
		if err != nil {
			t.Fatal(err)
		}
		r := &rendering{objects: objs}
		agent := r.pod(agentName)
		if v, ok := flagValue(agent.Containers[0].Args, "cni-bin-dir"); !ok || v != "" {
			t.Errorf("--cni-bin-dir=%q (given: %v), want an empty list, which overrides the agent's default", v, ok)
		}
		for _, v := range agent.Volumes {
			if strings.HasPrefix(v.Name, "cni-bin-") {
				t.Errorf("volume %s is still rendered", v.Name)
			}
		}
	})
	t.Run("without the cluster side the collector passes --kubernetes=off and gets no token and no role", func(t *testing.T) {
		objs, err := decodeStream(renderHelm(t, map[string]any{"collector": map[string]any{"kubernetes": map[string]any{"enabled": false}}}))
		if err != nil {
			t.Fatal(err)
		}
		r := &rendering{objects: objs}
		coll := r.pod(collectorName)
		if v, _ := flagValue(coll.Containers[0].Args, "kubernetes"); v != "off" {
			t.Errorf("--kubernetes=%q, want off", v)
		}
		if coll.AutomountServiceAccountToken == nil || *coll.AutomountServiceAccountToken {
			t.Error("the collector's pod still gets a ServiceAccount token")
		}
		for _, v := range coll.Volumes {
			if v.Projected != nil {
				t.Errorf("volume %s still projects a token", v.Name)
			}
		}
		if n := len(r.ofKind("ClusterRole")) + len(r.ofKind("ClusterRoleBinding")); n != 0 {
			t.Errorf("%d RBAC objects rendered, want none", n)
		}
		// Nothing can review a token then: agents share the static one.
		if v, ok := flagValue(coll.Containers[0].Args, "agent-service-account"); ok {
			t.Errorf("--agent-service-account=%s, which needs TokenReview", v)
		}
		for _, p := range checkAgentCollectorToken(r) {
			t.Error(p)
		}
	})
	t.Run("without the NetworkPolicy none is rendered", func(t *testing.T) {
		objs, err := decodeStream(renderHelm(t, networkPolicyValues("enabled", false)))
		if err != nil {
			t.Fatal(err)
		}
		if n := len((&rendering{objects: objs}).ofKind("NetworkPolicy")); n != 0 {
			t.Errorf("%d NetworkPolicies rendered, want none", n)
		}
	})
	t.Run("the release's namespace, named again in a list, is listed once and first", func(t *testing.T) {
		objs, err := decodeStream(renderHelm(t, networkPolicyValues("queryNamespaces", []any{"team-a", namespace, "team-b"})))
		if err != nil {
			t.Fatal(err)
		}
		r := &rendering{objects: objs}
		got := *namespaceValues(r, 1)
		if want := []string{namespace, "team-a", "team-b"}; !slices.Equal(got, want) {
			t.Errorf("query namespaces %v, want %v", got, want)
		}
		if got := *namespaceValues(r, 2); !slices.Equal(got, []string{namespace}) {
			t.Errorf("metrics namespaces %v, want only %s", got, namespace)
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
