package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/yaml"
)

// An object is one rendered manifest, decoded into its k8s.io/api type.
type object struct {
	kind, namespace, name string
	// obj is a pointer to the typed object, e.g. *appsv1.DaemonSet.
	obj metav1.Object
}

func (o object) key() string { return o.kind + "/" + o.namespace + "/" + o.name }

// kinds lists every kind graceline's manifests may hold, by apiVersion and
// kind. Anything else is an error: a new kind is added here on purpose.
var kinds = map[string]func() metav1.Object{
	"v1/Namespace":             func() metav1.Object { return &corev1.Namespace{} },
	"v1/ServiceAccount":        func() metav1.Object { return &corev1.ServiceAccount{} },
	"v1/Service":               func() metav1.Object { return &corev1.Service{} },
	"v1/PersistentVolumeClaim": func() metav1.Object { return &corev1.PersistentVolumeClaim{} },
	"v1/Secret":                func() metav1.Object { return &corev1.Secret{} },
	"v1/ConfigMap":             func() metav1.Object { return &corev1.ConfigMap{} },
	"apps/v1/DaemonSet":        func() metav1.Object { return &appsv1.DaemonSet{} },
	"apps/v1/Deployment":       func() metav1.Object { return &appsv1.Deployment{} },
	"rbac.authorization.k8s.io/v1/ClusterRole":        func() metav1.Object { return &rbacv1.ClusterRole{} },
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": func() metav1.Object { return &rbacv1.ClusterRoleBinding{} },
	"rbac.authorization.k8s.io/v1/RoleBinding":        func() metav1.Object { return &rbacv1.RoleBinding{} },
	"apiregistration.k8s.io/v1/APIService":            func() metav1.Object { return &apiregistrationv1.APIService{} },
	"scheduling.k8s.io/v1/PriorityClass":              func() metav1.Object { return &schedulingv1.PriorityClass{} },
	"networking.k8s.io/v1/NetworkPolicy":              func() metav1.Object { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1/PodMonitor":             func() metav1.Object { return &PodMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule":         func() metav1.Object { return &PrometheusRule{} },
}

// decodeStream splits a multi-document YAML stream and decodes each
// document strictly: an unknown or duplicated field, or a value of the
// wrong type, is an error, as kubectl's strict field validation would make
// it. Documents holding only comments (a disabled Helm template) are
// skipped.
func decodeStream(stream []byte) ([]object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var out []object
	seen := map[string]bool{}
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("split YAML stream: %w", err)
		}
		if blank(doc) {
			continue
		}
		o, err := decodeDocument(doc)
		if err != nil {
			return nil, fmt.Errorf("%w in:\n%s", err, doc)
		}
		if seen[o.key()] {
			return nil, fmt.Errorf("%s rendered twice", o.key())
		}
		seen[o.key()] = true
		out = append(out, o)
	}
	return out, nil
}

func decodeDocument(doc []byte) (object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return object{}, fmt.Errorf("read apiVersion and kind: %w", err)
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return object{}, fmt.Errorf("unexpected kind %s %s", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return object{}, fmt.Errorf("decode %s strictly: %w", tm.Kind, err)
	}
	if obj.GetName() == "" {
		return object{}, fmt.Errorf("%s without a name", tm.Kind)
	}
	return object{kind: tm.Kind, namespace: obj.GetNamespace(), name: obj.GetName(), obj: obj}, nil
}

// blank tells whether a document holds nothing but comments and space.
func blank(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "---" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// TestStrictDecoding shows that the decoder the other tests rely on
// refuses what the API server's strict field validation would.
func TestStrictDecoding(t *testing.T) {
	cases := []struct {
		name, doc string
	}{
		{"a misspelt field is refused", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectr: {a: b}}\n"},
		{"a field at the wrong level is refused", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x, automountServiceAccountToken: false}\n"},
		{"a duplicated field is refused", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: ClusterIP, type: NodePort}\n"},
		{"a string where a number belongs is refused", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: one}\n"},
		{"an unknown kind is refused", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"},
		{"an object without a name is refused", "apiVersion: v1\nkind: Service\nmetadata: {}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := decodeStream([]byte(c.doc)); err == nil {
				t.Errorf("decoded without error:\n%s", c.doc)
			}
		})
	}
	t.Run("a well-formed object is accepted", func(t *testing.T) {
		objs, err := decodeStream([]byte("# a comment only\n---\napiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: ns}\nspec: {type: ClusterIP}\n"))
		if err != nil || len(objs) != 1 || objs[0].key() != "Service/ns/x" {
			t.Errorf("got %v, %v", objs, err)
		}
	})
}
