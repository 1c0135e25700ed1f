package deploy

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// helmOnlyLabels are the labels the chart adds for Helm's bookkeeping;
// kustomize has no use for them.
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by"}

// TestHelmMatchesKustomize renders each variant both ways and compares the
// objects field by field, after decoding (so that formatting, key order,
// comments and quoting do not matter) and without Helm's own labels. Only
// kustomize creates the Namespace: Helm installs into one.
func TestHelmMatchesKustomize(t *testing.T) {
	for _, v := range variants {
		t.Run("Helm and kustomize render the same objects for "+v.name, func(t *testing.T) {
			k, h := canonical(t, render(t, "kustomize", v)), canonical(t, render(t, "helm", v))
			var keys []string
			for key := range k {
				keys = append(keys, key)
			}
			for key := range h {
				if _, ok := k[key]; !ok {
					keys = append(keys, key)
				}
			}
			slices.Sort(keys)
			for _, key := range keys {
				kd, inK := k[key]
				hd, inH := h[key]
				switch {
				case !inK:
					t.Errorf("%s is rendered by Helm only", key)
				case !inH:
					t.Errorf("%s is rendered by kustomize only", key)
				case kd != hd:
					t.Errorf("%s differs (-kustomize +helm):\n%s", key, cmp.Diff(strings.Split(kd, "\n"), strings.Split(hd, "\n")))
				}
			}
		})
	}
	t.Run("only kustomize creates the namespace, labelled for the privileged Pod Security level", func(t *testing.T) {
		ns, _ := render(t, "kustomize", variants[0]).find("Namespace", namespace).(*corev1.Namespace)
		if ns == nil || ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
			t.Errorf("kustomize: namespace %s missing or not labelled privileged: %+v", namespace, ns)
		}
		if len(render(t, "helm", variants[0]).ofKind("Namespace")) != 0 {
			t.Error("Helm renders a Namespace; it should install into --namespace")
		}
	})
	t.Run("Helm labels each object as its own", func(t *testing.T) {
		for _, o := range render(t, "helm", variants[0]).objects {
			for _, l := range helmOnlyLabels {
				if o.obj.GetLabels()[l] == "" {
					t.Errorf("%s has no label %s", o.key(), l)
				}
			}
		}
	})
}

// canonical returns each object but the Namespace as YAML, keyed by kind,
// namespace and name, without Helm's own labels.
func canonical(t *testing.T, r *rendering) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, o := range r.clone().objects {
		if o.kind == "Namespace" {
			continue
		}
		labels := o.obj.GetLabels()
		for _, l := range helmOnlyLabels {
			delete(labels, l)
		}
		o.obj.SetLabels(labels)
		b, err := yaml.Marshal(o.obj)
		if err != nil {
			t.Fatalf("%s: marshal %s: %v", r, o.key(), err)
		}
		out[o.key()] = string(b)
	}
	return out
}
