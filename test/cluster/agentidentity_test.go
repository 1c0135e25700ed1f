package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	collectorclient "github.com/graceline/graceline/collector/client"
	"github.com/graceline/graceline/test/cluster"
)

// The shared collector admits this ServiceAccount's node-bound tokens as
// agents' (--agent-service-account); TestAgentIdentity creates it.
const (
	agentSANamespace = cluster.TestbedNamespace
	agentSAName      = "graceline-agent"
	agentAudience    = "graceline-collector"
)

// otherNode is a Node object without a kubelet: a pod bound to it gets a
// token the API server binds to it, as a second node's agent would.
const otherNode = "graceline-other-node"

// TestAgentIdentity checks that an agent admitted by its pod's projected
// ServiceAccount token writes only the events of the node its token is
// bound to. The node's agent pod reads its token as the DaemonSet does,
// from a projected volume the kubelet writes; a pod bound to a second Node
// object (which no kubelet runs) gets its token by TokenRequest, bound to
// that pod. Each writes its own node's events, and each is refused the
// other's, as is a forged node name; the refusals are read back from the
// collector's metrics.
func TestAgentIdentity(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "agentid")
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: agentSAName, Namespace: agentSANamespace}, AutomountServiceAccountToken: ptr(false)}
	if _, err := client.CoreV1().ServiceAccounts(agentSANamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.CoreV1().ServiceAccounts(agentSANamespace).Delete(context.Background(), agentSAName, metav1.DeleteOptions{})
	})

	// Node A's agent: the token the kubelet projects into its pod.
	podA := busyboxPod(agentSANamespace, "agent-a", "exec sleep 3600", 1)
	podA.Spec.ServiceAccountName = agentSAName
	podA.Spec.AutomountServiceAccountToken = ptr(false)
	podA.Spec.Volumes = []corev1.Volume{{Name: "collector-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: agentAudience, ExpirationSeconds: ptr(int64(3600)), Path: "token"}}},
	}}}}
	podA.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "collector-token", MountPath: "/var/run/secrets/graceline", ReadOnly: true}}
	podA = createRunning(t, podA)
	t.Cleanup(func() {
		client.CoreV1().Pods(agentSANamespace).Delete(context.Background(), podA.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	})
	tokenA := filepath.Join(testCluster.KubeletRootDir(), "pods", string(podA.UID), "volumes", "kubernetes.io~projected", "collector-token", "token")
	if _, err := os.Stat(tokenA); err != nil {
		t.Fatalf("the projected token of %s: %v", podA.Name, err)
	}

	// Node B's agent: a pod bound to a Node that no kubelet runs, which
	// nothing else is scheduled to.
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: otherNode},
		Spec: corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{
			{Key: "graceline.dev/test-node-without-kubelet", Effect: corev1.TaintEffectNoSchedule},
			{Key: "graceline.dev/test-node-without-kubelet", Effect: corev1.TaintEffectNoExecute},
		}},
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CoreV1().Nodes().Delete(context.Background(), otherNode, metav1.DeleteOptions{}) })
	podB := busyboxPod(agentSANamespace, "agent-b", "exec sleep 3600", 1)
	podB.Spec.ServiceAccountName = agentSAName
	podB.Spec.AutomountServiceAccountToken = ptr(false)
	podB.Spec.NodeName = otherNode
	podB.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	podB, err := client.CoreV1().Pods(agentSANamespace).Create(ctx, podB, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.CoreV1().Pods(agentSANamespace).Delete(context.Background(), podB.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	})
	tokenB := writeToken(t, "node-b", agentSAName, &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: podB.Name, UID: podB.UID}, agentAudience)

	// Tokens that must admit no agent.
	if _, err := client.CoreV1().ServiceAccounts(agentSANamespace).Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("the test bed namespace's default ServiceAccount: %v", err)
	}
	podRef := &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: podA.Name, UID: podA.UID}
	forTheAPI := writeToken(t, "for-the-api", agentSAName, podRef)
	unbound := writeToken(t, "unbound", agentSAName, nil, agentAudience)
	otherSA := writeToken(t, "other-sa", "default", nil, agentAudience)

	nodeA := testCluster.NodeName
	tests := []struct {
		name, token string
		node        string     // the delivery key's node and the event's
		wantCode    codes.Code // of the stream's first answer
		wantStored  uint32
		refusal     string // the metric's reason label that counts it
	}{
		{"node A's projected token writes node A's events", tokenA, nodeA, codes.OK, 1, ""},
		{"node A's token cannot write node B's events", tokenA, otherNode, codes.OK, 0, `graceline_collector_events_rejected_total{reason="forged_node"}`},
		{"node A's token cannot write under a forged node name", tokenA, "forged-" + nodeA, codes.OK, 0, `graceline_collector_events_rejected_total{reason="forged_node"}`},
		{"node B's token writes node B's events", tokenB, otherNode, codes.OK, 1, ""},
		{"node B's token cannot write node A's events", tokenB, nodeA, codes.OK, 0, `graceline_collector_events_rejected_total{reason="forged_node"}`},
		{"a token of the agents' ServiceAccount issued for the API server is refused", forTheAPI, nodeA, codes.Unauthenticated, 0, `graceline_collector_auth_refused_total{api="ingest",reason="invalid_token"}`},
		{"a token of the agents' ServiceAccount bound to no node is refused", unbound, nodeA, codes.PermissionDenied, 0, `graceline_collector_auth_refused_total{api="ingest",reason="unbound_token"}`},
		{"a token of another ServiceAccount is refused", otherSA, nodeA, codes.PermissionDenied, 0, `graceline_collector_auth_refused_total{api="ingest",reason="wrong_service_account"}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before float64
			if tt.refusal != "" {
				before = collectorMetric(t, tt.refusal)
			}
			uid := fmt.Sprintf("agentid-%d-%d", time.Now().UnixNano(), i)
			e := &apiv1.Event{
				Kind: apiv1.KindContainerCreated, Time: timestamppb.Now(), Node: tt.node,
				Pod: &apiv1.PodRef{Namespace: ns, Name: "probe", Uid: uid}, Container: &apiv1.ContainerRef{Id: uid, Name: "main"},
			}
			ack, err := ingestWithTokenFile(tt.token, e)
			if code := status.Code(err); code != tt.wantCode {
				t.Fatalf("stream: %v (code %v), want code %v", err, code, tt.wantCode)
			}
			if err == nil && (ack.Stored != tt.wantStored || ack.Rejected != 1-tt.wantStored) {
				t.Errorf("ack %v, want %d stored", ack, tt.wantStored)
			}
			if err == nil && tt.wantStored == 0 && !strings.HasPrefix(ack.Refusal, "forged_node:") {
				t.Errorf("refusal %q, want forged_node", ack.Refusal)
			}
			if tt.refusal != "" {
				if after := collectorMetric(t, tt.refusal); after != before+1 {
					t.Errorf("%s went from %v to %v, want one more", tt.refusal, before, after)
				}
			}
			// A pod the collector holds nothing of is not found.
			events, _, err := collector.timeline(uid)
			if err != nil && status.Code(err) != codes.NotFound {
				t.Fatal(err)
			}
			if stored := len(events) == 1 && proto.Equal(events[0], e); stored != (tt.wantStored == 1) {
				t.Errorf("the collector holds %v for the pod, want the event stored: %v", events, tt.wantStored == 1)
			}
		})
	}
}

// writeToken requests a token of the ServiceAccount, bound to bound (nil:
// to nothing) and issued for audiences (none: the API server's), and
// writes it to a file, which it returns.
func writeToken(t *testing.T, name, account string, bound *authenticationv1.BoundObjectReference, audiences ...string) string {
	t.Helper()
	tr, err := client.CoreV1().ServiceAccounts(agentSANamespace).CreateToken(context.Background(), account, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: ptr(int64(3600)), BoundObjectRef: bound},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("request token %s: %v", name, err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(tr.Status.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ingestWithTokenFile sends e on a stream of its own, as an agent with
// --token-file would, and returns the batch's acknowledgement or the
// stream's error.
func ingestWithTokenFile(tokenFile string, e *apiv1.Event) (*apiv1.Ack, error) {
	cc, err := collectorclient.Dial(collectorclient.Options{Address: collector.grpc, TokenFile: tokenFile, Role: "agent"})
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := apiv1.NewIngestClient(cc).Stream(ctx)
	if err != nil {
		return nil, err
	}
	body, err := proto.Marshal(e)
	if err != nil {
		return nil, err
	}
	key := &apiv1.DeliveryKey{Node: e.Node, Epoch: uint64(time.Now().UnixNano()), Seq: 1}
	if err := stream.Send(&apiv1.Batch{Id: 1, Records: []*apiv1.Record{{Key: key, Event: body}}}); err != nil {
		// The refusal of a stream comes with its first receive.
		if _, rerr := stream.Recv(); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	ack, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	return ack, stream.CloseSend()
}

// collectorMetric reads one series of the shared collector's /metrics,
// named as it is printed there (name{labels}).
func collectorMetric(t *testing.T, series string) float64 {
	t.Helper()
	_, body, err := collector.httpGet("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no series %s on the collector's /metrics", series)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
