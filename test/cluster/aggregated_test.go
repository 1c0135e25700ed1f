package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/graceline/graceline/test/cluster"
	"github.com/graceline/graceline/test/harness"
)

// aggregatedAPI is the deployment's file with the APIService and the
// aggregated reader role.
const aggregatedAPI = "deploy/kustomize/base/aggregated-api.yaml"

// tableAccept asks for the server-side table kubectl prints.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io"

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// TestAggregatedAPI registers the deployment's APIService for the host
// collector, which serves the aggregated API with the deployment's rights,
// then reads a deleted pod's termination through the API server: as a
// table with kubectl's columns, as a user who may view the namespace, as
// one who may not, and unauthenticated.
func TestAggregatedAPI(t *testing.T) {
	ctx := context.Background()
	registerAPIService(t)
	nsX, nsY := newNamespace(t, "aggx"), newNamespace(t, "aggy")

	pod := createRunning(t, busyboxPod(nsX, "leaves", exitsOnTerm, 5))
	deleteAndWaitGone(t, pod)

	path := "/apis/graceline.dev/v1alpha1/namespaces/" + nsX + "/podterminations"
	var table metav1.Table
	waitFor(t, collectorTimeout, "the deleted pod in the podterminations table of "+nsX, func() bool {
		b, err := client.CoreV1().RESTClient().Get().AbsPath(path).SetHeader("Accept", tableAccept).DoRaw(ctx)
		if err != nil {
			t.Logf("list podterminations: %v", err)
			return false
		}
		table = metav1.Table{}
		if err := json.Unmarshal(b, &table); err != nil {
			t.Fatalf("decode table: %v\n%s", err, b)
		}
		return len(table.Rows) == 1 && table.Rows[0].Cells[1] == "graceful"
	})
	var columns []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			columns = append(columns, c.Name)
		}
	}
	if got, want := strings.Join(columns, " "), "Name Verdict Duration Cause Age"; got != want {
		t.Errorf("table columns %q, want %q", got, want)
	}
	if row := table.Rows[0].Cells; row[0] != pod.Name || row[2] == "<unknown>" || row[3] == "" {
		t.Errorf("row %v, want the pod's name, a duration and a cause", row)
	}

	t.Run("the object reads in full, with its summary", func(t *testing.T) {
		b, err := client.CoreV1().RESTClient().Get().AbsPath(path, pod.Name).DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
			Status struct {
				Verdict string `json:"verdict"`
				Phases  []any  `json:"phases"`
			} `json:"status"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind != "PodTermination" || obj.Metadata.UID != string(pod.UID) || obj.Status.Verdict != "graceful" || len(obj.Status.Phases) == 0 {
			t.Errorf("object %s, want the pod's graceful termination with its phases", b)
		}
		y, err := yaml.JSONToYAML(b)
		if err != nil || !strings.Contains(string(y), "verdict: graceful") {
			t.Errorf("as YAML (-o yaml): %v\n%s", err, y)
		}
	})

	t.Run("the timeline subresource has the pod's events", func(t *testing.T) {
		b, err := client.CoreV1().RESTClient().Get().AbsPath(path, pod.Name, "timeline").DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{`"kind":"container_started"`, `"kind":"pod_deleted"`} {
			if !strings.Contains(string(b), kind) {
				t.Errorf("timeline lacks %s:\n%s", kind, b)
			}
		}
	})

	t.Run("a user who may view a namespace reads it, and is refused another", func(t *testing.T) {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "alice-view", Namespace: nsX},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "alice"}},
		}
		if _, err := client.RbacV1().RoleBindings(nsX).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		alice := clientAs(t, func(c *rest.Config) { c.Impersonate = rest.ImpersonationConfig{UserName: "alice"} })
		// The view role gains graceline's rules when the controller
		// manager aggregates them.
		var lastErr error
		waitFor(t, time.Minute, "alice reading the terminations of "+nsX, func() bool {
			_, lastErr = alice.CoreV1().RESTClient().Get().AbsPath(path).DoRaw(ctx)
			return lastErr == nil
		})
		_, err := alice.CoreV1().RESTClient().Get().AbsPath("/apis/graceline.dev/v1alpha1/namespaces/" + nsY + "/podterminations").DoRaw(ctx)
		if !apierrors.IsForbidden(err) {
			t.Errorf("alice listing %s: %v, want 403 Forbidden", nsY, err)
		}
		_, err = alice.CoreV1().RESTClient().Get().AbsPath("/apis/graceline.dev/v1alpha1/podterminations").DoRaw(ctx)
		if !apierrors.IsForbidden(err) {
			t.Errorf("alice listing every namespace: %v, want 403 Forbidden", err)
		}
	})

	t.Run("terminationchecks predicts a running container's stop, for readers of its namespace only", testTerminationChecks)

	t.Run("an unauthenticated request is refused", func(t *testing.T) {
		anon := clientAs(t, func(c *rest.Config) { c.BearerToken, c.BearerTokenFile = "", "" })
		_, err := anon.CoreV1().RESTClient().Get().AbsPath(path).DoRaw(ctx)
		if !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
			t.Errorf("anonymous list: %v, want 401 or 403", err)
		}
	})

	t.Run("the collector refuses a caller who bypasses the API server", func(t *testing.T) {
		direct := &rest.Config{Host: "https://" + collector.api, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
		direct.BearerToken = "not-a-token"
		cs, err := kubernetes.NewForConfig(direct)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cs.CoreV1().RESTClient().Get().AbsPath(path).DoRaw(ctx)
		if !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
			t.Errorf("direct list with a bad token: %v, want 401 or 403", err)
		}
	})
}

// clientAs returns an admin client changed by edit.
func clientAs(t *testing.T, edit func(*rest.Config)) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", testCluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// registerAPIService creates the deployment's APIService and reader role,
// pointed at the host collector through a Service without a selector whose
// endpoint is the collector's address on the node, and waits until the API
// server finds it available. All of it is deleted at the end of the test.
func registerAPIService(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, aggregatedAPI))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", testCluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	host, portText, err := net.SplitHostPort(collector.api)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	const svcName = "graceline-collector-api"
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: svcName, Namespace: cluster.TestbedNamespace},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "api", Port: 443, TargetPort: intstr.FromInt32(int32(port))}}},
	}
	if _, err := client.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.CoreV1().Services(svc.Namespace).Delete(context.Background(), svcName, metav1.DeleteOptions{})
	})
	// The API server dials the Service's EndpointSlices itself
	// (--enable-aggregator-routing).
	ready := true
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svcName, Namespace: cluster.TestbedNamespace, Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("api"), Port: ptr(int32(port)), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	if _, err := client.DiscoveryV1().EndpointSlices(es.Namespace).Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.DiscoveryV1().EndpointSlices(es.Namespace).Delete(context.Background(), svcName, metav1.DeleteOptions{})
	})

	var apiServiceName string
	for _, doc := range strings.Split(string(raw), "\n---") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("read %s: %v", aggregatedAPI, err)
		}
		switch u.GetKind() {
		case "APIService":
			unstructured.SetNestedField(u.Object, cluster.TestbedNamespace, "spec", "service", "namespace")
			unstructured.SetNestedField(u.Object, svcName, "spec", "service", "name")
			if _, err := dyn.Resource(apiServiceGVR).Create(ctx, &u, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create APIService: %v", err)
			}
			apiServiceName = u.GetName()
			t.Cleanup(func() { dyn.Resource(apiServiceGVR).Delete(context.Background(), u.GetName(), metav1.DeleteOptions{}) })
		case "ClusterRole":
			// The test bed's own copy, with the aggregation labels that
			// give its rules to view, edit and admin.
			u.SetName("testbed-" + u.GetName())
			labels := u.GetLabels()
			labels["app.kubernetes.io/part-of"] = "graceline-testbed"
			u.SetLabels(labels)
			gvr := schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
			if _, err := dyn.Resource(gvr).Create(ctx, &u, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create ClusterRole: %v", err)
			}
			t.Cleanup(func() { dyn.Resource(gvr).Delete(context.Background(), u.GetName(), metav1.DeleteOptions{}) })
		}
	}
	if apiServiceName == "" {
		t.Fatalf("%s has no APIService", aggregatedAPI)
	}
	var status string
	waitFor(t, 2*time.Minute, "APIService "+apiServiceName+" available", func() bool {
		u, err := dyn.Resource(apiServiceGVR).Get(ctx, apiServiceName, metav1.GetOptions{})
		if err != nil {
			return false
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		status = fmt.Sprint(conds)
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Available" && m["status"] == "True" {
				return true
			}
		}
		return false
	})
	t.Logf("APIService available: %s", status)
}

func ptr[T any](v T) *T { return &v }
