package cluster_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	apiv1 "github.com/graceline/graceline/api/v1"
	collectorclient "github.com/graceline/graceline/collector/client"
)

// collectorTimeout bounds how long the collector may take to show what the
// API and the node did.
const collectorTimeout = 2 * time.Minute

const holdFinalizer = "graceline.test/hold"

// TestFullTimeline deletes a Deployment's pod behind a Service: the
// collector's timeline must run from delete_requested through the
// endpoints' removal and the node's phases to pod_deleted, and the summary
// must carry the endpoint lag.
func TestFullTimeline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t, "full")
	labels := map[string]string{"app": "shop"}
	createService(t, ns, "web", labels)
	createDeployment(t, ns, "web", labels, 1, 5)
	var pod corev1.Pod
	waitFor(t, runningTimeout, "the deployment's pod running", func() bool {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=shop"})
		if err != nil || len(list.Items) != 1 || list.Items[0].Status.Phase != corev1.PodRunning {
			return false
		}
		pod = list.Items[0]
		return true
	})
	uid := string(pod.UID)
	waitFor(t, runningTimeout, "agent: container_started of "+pod.Name, func() bool {
		return find(agent.forPod(uid), apiv1.KindContainerStarted) != nil
	})
	waitEndpointReady(t, ns, "web", uid)
	// The PID 1 must have trapped SIGTERM, or it would drop it.
	waitHandlesTerm(t, &pod)

	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	waitGone(t, &pod)

	var events []*apiv1.Event
	var sum *apiv1.Event
	waitFor(t, collectorTimeout, "the collector's timeline from delete_requested to pod_deleted, with the final summary", func() bool {
		var err error
		events, sum, err = collector.timeline(uid)
		if err != nil {
			return false
		}
		return hasAPI(events, apiv1.KindDeleteRequested) && hasAPI(events, apiv1.KindEndpointRemoved) &&
			hasAPI(events, apiv1.KindPodDeleted) && hasAPI(events, apiv1.KindTerminationSummary) &&
			find(events, apiv1.KindContainerStopped) != nil
	})
	t.Logf("timeline:\n%s", describe(events))
	for i := 1; i < len(events); i++ {
		if events[i].GetTime().AsTime().Before(events[i-1].GetTime().AsTime()) {
			t.Errorf("timeline not in time order at %d: %s after %s", i, events[i].Kind, events[i-1].Kind)
		}
	}
	at := func(kind string, api bool) time.Time {
		for _, e := range events {
			if e.Kind == kind && (e.Source == apiv1.SourceAPI) == api {
				return e.GetTime().AsTime()
			}
		}
		t.Fatalf("no %s (api=%v) in the timeline", kind, api)
		return time.Time{}
	}
	requested, stopped, deleted := at(apiv1.KindDeleteRequested, true), at(apiv1.KindContainerStopped, false), at(apiv1.KindPodDeleted, true)
	if !(requested.Before(stopped) && stopped.Before(deleted)) {
		t.Errorf("delete_requested %s, container_stopped %s, pod_deleted %s: not in that order", requested, stopped, deleted)
	}
	// The Deployment's next pod starts on this node meanwhile, and the
	// kernel may give it the old container's mount namespace number.
	for _, e := range events {
		if e.Kind == apiv1.KindExec && e.GetTime().AsTime().After(stopped) {
			t.Errorf("an exec after the container stopped is attributed to it: %v", e)
		}
	}
	removed := findWhere(events, apiv1.KindEndpointRemoved, func(e *apiv1.Event) bool { return e.Source == apiv1.SourceAPI })
	if removed.Service != ns+"/web" {
		t.Errorf("endpoint_removed names service %q, want %s/web", removed.Service, ns)
	}
	if sum == nil || sum.EndpointLag == nil || sum.TrafficRisk == nil || sum.ApiToNode == nil || sum.NodeToApi == nil {
		t.Fatalf("summary lacks the cluster-side fields: %v", sum)
	}
	if sum.Verdict != apiv1.VerdictGraceful {
		t.Errorf("verdict %q, want graceful", sum.Verdict)
	}
	if a := sum.ApiToNode.AsDuration(); a < 0 || a > 30*time.Second {
		t.Errorf("api_to_node %s, want between 0 and 30s", a)
	}
	t.Logf("api_to_node %s, endpoint_lag %s (traffic_risk %v), node_to_api %s",
		sum.ApiToNode.AsDuration(), sum.EndpointLag.AsDuration(), sum.GetTrafficRisk(), sum.NodeToApi.AsDuration())

	out, err := collector.cli("timeline", ns+"/"+pod.Name, "--uid", uid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl-graceline timeline:\n%s", out)
	for _, row := range []string{"API   delete_requested", "API   endpoint_removed", "node  signal_generated", "API   pod_deleted", "endpoint lag"} {
		if !strings.Contains(out, row) {
			t.Errorf("kubectl-graceline timeline lacks %q", row)
		}
	}
}

// TestFinalizerHoldsPod deletes a pod with a finalizer nobody removes: once
// the node is done, the collector reports it stuck at "finalizers", naming
// the finalizer; removing it lets the object go, and a final summary
// follows.
func TestFinalizerHoldsPod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t, "finalizer")
	p := busyboxPod(ns, "held", exitsOnTerm, 2)
	p.Finalizers = []string{holdFinalizer}
	pod := createRunning(t, p)
	uid := string(pod.UID)
	waitHandlesTerm(t, pod)
	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}

	var report *apiv1.Event
	waitFor(t, collectorTimeout, "a stuck report at finalizers", func() bool {
		reports, err := collector.stuck(ns)
		if err != nil {
			return false
		}
		for _, r := range reports {
			if r.GetPod().GetUid() == uid && r.BlockingPhase == apiv1.PhaseFinalizers {
				report = r
				return true
			}
		}
		return false
	})
	if !slices.Contains(report.Finalizers, holdFinalizer) || !strings.Contains(strings.Join(report.Evidence, "\n"), holdFinalizer) {
		t.Errorf("stuck report does not name %s: finalizers %q, evidence %q", holdFinalizer, report.Finalizers, report.Evidence)
	}
	if report.Source != apiv1.SourceAPI {
		t.Errorf("stuck report from %q, want the collector's cluster side", report.Source)
	}
	if c := report.GetCauses(); len(c) != 1 || c[0].Cause != apiv1.StuckFinalizers || !strings.Contains(c[0].Advice, holdFinalizer) {
		t.Errorf("stuck report's causes %v, want finalizers with advice naming %s", c, holdFinalizer)
	}
	out, err := collector.cli("stuck")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl-graceline stuck:\n%s", out)
	if !strings.Contains(out, "POD "+ns+"/held") || !strings.Contains(out, "finalizers") || !strings.Contains(out, holdFinalizer) {
		t.Errorf("kubectl-graceline stuck does not list the pod held at finalizers:\n%s", out)
	}
	_, sum, err := collector.timeline(uid)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Verdict != apiv1.VerdictStuck || sum.BlockingPhase != apiv1.PhaseFinalizers {
		t.Errorf("summary while held: verdict %q at %q, want stuck at finalizers", sum.Verdict, sum.BlockingPhase)
	}
	if find(agent.forPod(uid), apiv1.KindTerminationSummary) == nil {
		t.Errorf("the collector reported finalizers before the node's summary")
	}

	patch := []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`)
	if _, err := client.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("remove the finalizer: %v", err)
	}
	waitGone(t, pod)
	var events []*apiv1.Event
	waitFor(t, collectorTimeout, "pod_deleted and the final summary", func() bool {
		events, sum, err = collector.timeline(uid)
		return err == nil && hasAPI(events, apiv1.KindPodDeleted) && hasAPI(events, apiv1.KindTerminationSummary)
	})
	changed := findWhere(events, apiv1.KindFinalizersChanged, func(e *apiv1.Event) bool { return len(e.Finalizers) == 0 })
	if changed == nil {
		t.Errorf("no finalizers_changed to none:\n%s", describe(events))
	}
	if sum.Verdict != apiv1.VerdictGraceful || sum.NodeToApi == nil || sum.NodeToApi.AsDuration() < testStuckAfter {
		t.Errorf("final summary: verdict %q node_to_api %v, want graceful and at least %s", sum.Verdict, sum.NodeToApi.AsDuration(), testStuckAfter)
	}
	if !strings.Contains(strings.Join(sum.Evidence, "\n"), holdFinalizer) {
		t.Errorf("final summary does not say the finalizer held the object: %q", sum.Evidence)
	}
	reports, err := collector.stuck(ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if r.GetPod().GetUid() == uid {
			t.Errorf("still listed stuck after its deletion: %v", r)
		}
	}
}

// TestCollectorRestartMidDeletion restarts a collector of its own while a
// pod behind a Service is held by a finalizer, and again while the pod is
// released and deleted: every API event must be stored, and once.
func TestCollectorRestartMidDeletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := ownCollector(t, t.TempDir(), filepath.Join(tmpDir, "collector.kubeconfig"))
	ns := newNamespace(t, "restart")
	labels := map[string]string{"app": "held"}
	createService(t, ns, "held", labels)
	p := busyboxPod(ns, "held", exitsOnTerm, 2)
	p.Labels, p.Finalizers = labels, []string{holdFinalizer}
	pod := createRunning(t, p)
	uid := string(pod.UID)
	waitEndpointReady(t, ns, "held", uid)
	waitHandlesTerm(t, pod)
	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	waitFor(t, collectorTimeout, "delete_requested and endpoint_not_ready stored", func() bool {
		events, _, err := c.timeline(uid)
		return err == nil && hasAPI(events, apiv1.KindDeleteRequested) && hasAPI(events, apiv1.KindEndpointNotReady)
	})

	// A restart while the object is held: the relist sees it again.
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	// Down while the finalizer goes and the object is deleted.
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`)
	if _, err := client.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("remove the finalizer: %v", err)
	}
	waitGone(t, pod)
	if err := c.start(); err != nil {
		t.Fatal(err)
	}

	want := map[string]int{
		apiv1.KindDeleteRequested: 1, apiv1.KindEndpointNotReady: 1, apiv1.KindFinalizersChanged: 1,
		apiv1.KindEndpointRemoved: 1, apiv1.KindPodDeleted: 1,
	}
	var got map[string]int
	var events []*apiv1.Event
	waitFor(t, collectorTimeout, "every API event of the deletion", func() bool {
		var err error
		events, _, err = c.timeline(uid)
		if err != nil {
			return false
		}
		got = countKinds(apiEvents(events))
		for k := range want {
			if got[k] == 0 {
				return false
			}
		}
		return true
	})
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s stored %d times, want %d", k, got[k], n)
		}
	}
	if t.Failed() {
		t.Logf("events:\n%s", describe(events))
	}
}

// TestCollectorWithoutRights runs a collector whose ServiceAccount has no
// rights: it logs one clear error, says so on /healthz, and still takes and
// serves node data.
func TestCollectorWithoutRights(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t, "norights")
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := testCluster.ServiceAccountKubeconfig(ctx, ns, "nobody", kubeconfig); err != nil {
		t.Fatal(err)
	}
	c := ownCollector(t, dir, kubeconfig)
	const errLine = "cannot watch the Kubernetes API"
	waitFor(t, 30*time.Second, "the collector's error about its rights", func() bool {
		return strings.Contains(c.logs.String(), errLine)
	})
	var body string
	waitFor(t, 30*time.Second, "/healthz to say degraded", func() bool {
		code, b, err := c.httpGet("/healthz")
		body = b
		return err == nil && code == 200 && strings.HasPrefix(b, "degraded")
	})
	for _, res := range []string{"pods", "endpointslices", "nodes"} {
		if !strings.Contains(body, "kubernetes "+res+" watch failing") || !strings.Contains(body, "forbidden") {
			t.Errorf("/healthz does not say the %s watch is forbidden:\n%s", res, body)
		}
	}
	_, metrics, err := c.httpGet("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(metrics, `graceline_collector_kube_watch_healthy{resource="pods"} 0`) {
		t.Errorf("metrics do not show the pods watch unhealthy")
	}

	// Node data still goes in and comes out.
	uid := fmt.Sprintf("norights-%d", time.Now().UnixNano())
	sent := &apiv1.Event{
		Kind: apiv1.KindContainerStarted, Time: timestamppb.Now(), Node: testCluster.NodeName,
		Pod: &apiv1.PodRef{Namespace: ns, Name: "p", Uid: uid}, Container: &apiv1.ContainerRef{Id: "c1", Name: "main"},
	}
	if err := ingestOne(c, sent); err != nil {
		t.Fatal(err)
	}
	events, _, err := c.timeline(uid)
	if err != nil || len(events) != 1 || !proto.Equal(events[0], sent) {
		t.Errorf("timeline of the ingested pod: %v, %v; want the event sent", events, err)
	}
	// Retries go on; the error is not logged again.
	time.Sleep(5 * time.Second)
	if n := strings.Count(c.logs.String(), errLine); n != 1 {
		t.Errorf("the rights error was logged %d times, want once", n)
	}
}

// ownCollector runs a collector for one test, stopped (cleanly) at its end.
func ownCollector(t *testing.T, dir, kubeconfig string) *collectorProc {
	t.Helper()
	c, err := startCollector(collectorBin, dir, kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("collector log:\n%s", c.logs.String())
		}
	})
	return c
}

// ingestOne sends one event to the collector as an agent would.
func ingestOne(c *collectorProc, e *apiv1.Event) error {
	cc, err := collectorclient.Dial(collectorclient.Options{Address: c.grpc, Token: agentToken})
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := apiv1.NewIngestClient(cc).Stream(ctx)
	if err != nil {
		return err
	}
	body, err := proto.Marshal(e)
	if err != nil {
		return err
	}
	key := &apiv1.DeliveryKey{Node: e.Node, Epoch: uint64(time.Now().UnixNano()), Seq: 1}
	if err := stream.Send(&apiv1.Batch{Id: 1, Records: []*apiv1.Record{{Key: key, Event: body}}}); err != nil {
		return err
	}
	ack, err := stream.Recv()
	if err != nil {
		return err
	}
	if ack.Stored != 1 {
		return fmt.Errorf("ack %v, want one stored", ack)
	}
	return stream.CloseSend()
}

func createService(t *testing.T, ns, name string, selector map[string]string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service %s: %v", name, err)
	}
}

// waitEndpointReady waits until an EndpointSlice of the Service offers the
// pod as ready.
func waitEndpointReady(t *testing.T, ns, service, uid string) {
	t.Helper()
	waitFor(t, runningTimeout, "the pod ready in service "+service+"'s endpoints", func() bool {
		list, err := client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
		if err != nil {
			return false
		}
		for _, es := range list.Items {
			for _, ep := range es.Endpoints {
				if ep.TargetRef != nil && string(ep.TargetRef.UID) == uid && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
					return true
				}
			}
		}
		return false
	})
}

func hasAPI(events []*apiv1.Event, kind string) bool {
	return findWhere(events, kind, func(e *apiv1.Event) bool { return e.Source == apiv1.SourceAPI }) != nil
}

// TestNodeNeverActs deletes a pod bound to a node that does not exist, as
// when a node is lost: no kubelet acts, and the collector reports it stuck
// at "node" with what it knows of that node and its agent.
func TestNodeNeverActs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t, "lostnode")
	p := busyboxPod(ns, "orphan", exitsOnTerm, 30)
	p.Spec.NodeName = "lost-node"
	pod, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	uid := string(pod.UID)
	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	var report *apiv1.Event
	waitFor(t, collectorTimeout, "a stuck report at node", func() bool {
		reports, err := collector.stuck(ns)
		if err != nil {
			return false
		}
		for _, r := range reports {
			if r.GetPod().GetUid() == uid && r.BlockingPhase == apiv1.PhaseNode {
				report = r
				return true
			}
		}
		return false
	})
	evidence := strings.Join(report.Evidence, "\n")
	for _, want := range []string{"nothing from node lost-node", "no graceline agent on lost-node", `"lost-node" not found`} {
		if !strings.Contains(evidence, want) {
			t.Errorf("evidence lacks %q:\n%s", want, evidence)
		}
	}
	// Clean up as an operator would for a lost node.
	zero := int64(0)
	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("force-delete pod: %v", err)
	}
	waitGone(t, pod)
	waitFor(t, collectorTimeout, "pod_deleted", func() bool {
		events, _, err := collector.timeline(uid)
		return err == nil && hasAPI(events, apiv1.KindPodDeleted)
	})
}
