package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// runningPods waits until the Deployment's pods are exactly want running
// pods, none deleting, and returns them.
func runningPods(t *testing.T, ns, app string, want int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	waitFor(t, runningTimeout, fmt.Sprintf("%d running pods of %s", want, app), func() bool {
		list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return false
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
				return false
			}
			pods = append(pods, p)
		}
		return len(pods) == want
	})
	return pods
}

// finalSummary waits for the collector's final summary of a pod, joined
// with the cluster side, and returns it with the pod's events.
func finalSummary(t *testing.T, uid string) ([]*apiv1.Event, *apiv1.Event) {
	t.Helper()
	var events []*apiv1.Event
	var sum *apiv1.Event
	waitFor(t, collectorTimeout, "the collector's final summary of "+uid, func() bool {
		var err error
		events, sum, err = collector.timeline(uid)
		return err == nil && hasAPI(events, apiv1.KindDeleteRequested) && hasAPI(events, apiv1.KindPodDeleted) &&
			hasAPI(events, apiv1.KindTerminationSummary)
	})
	return events, sum
}

// TestInitiators deletes three Deployments' pods three ways: by a rollout,
// through the Eviction API, and with a plain delete. The collector must
// name who started each, and the Deployment that owns it, in the summary
// it serves and in the CLI's timeline.
func TestInitiators(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t, "initiator")
	cases := []struct {
		name, app string
		// end starts the termination of pod, a Deployment's only pod.
		end  func(t *testing.T, pod *corev1.Pod)
		want string
	}{
		{"A new pod template rolls the old pod out.", "roll", func(t *testing.T, _ *corev1.Pod) {
			updateTemplate(t, ns, "roll", func(tpl *corev1.PodTemplateSpec) {
				tpl.Annotations = map[string]string{"graceline.dev/revision": "2"}
			})
		}, apiv1.InitiatorRollout},
		{"An eviction through the Eviction API is named so.", "evict", func(t *testing.T, pod *corev1.Pod) {
			ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pod.Name}}
			if err := client.PolicyV1().Evictions(ns).Evict(ctx, ev); err != nil {
				t.Fatalf("evict %s: %v", pod.Name, err)
			}
		}, apiv1.InitiatorEviction},
		{"A plain delete of a Deployment's pod is a plain delete.", "plain", func(t *testing.T, pod *corev1.Pod) {
			if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete %s: %v", pod.Name, err)
			}
		}, apiv1.InitiatorAPIDelete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			createDeployment(t, ns, tc.app, map[string]string{"app": tc.app}, 1, 2)
			pod := runningPods(t, ns, tc.app, 1)[0]
			uid := string(pod.UID)
			waitFor(t, runningTimeout, "agent: container_started of "+pod.Name, func() bool {
				return find(agent.forPod(uid), apiv1.KindContainerStarted) != nil
			})
			tc.end(t, &pod)
			waitGone(t, &pod)
			events, sum := finalSummary(t, uid)
			del := findWhere(events, apiv1.KindDeleteRequested, func(e *apiv1.Event) bool { return e.Source == apiv1.SourceAPI })
			if del.Initiator != tc.want || sum.Initiator != tc.want {
				t.Errorf("initiator: delete_requested says %q, the summary %q; want %q", del.Initiator, sum.Initiator, tc.want)
			}
			if w := sum.GetWorkload(); w.GetKind() != "Deployment" || w.GetName() != tc.app {
				t.Errorf("workload %v, want Deployment %s", w, tc.app)
			}
			out, err := collector.cli("timeline", ns+"/"+pod.Name, "--uid", uid)
			if err != nil {
				t.Fatal(err)
			}
			if head, _, _ := strings.Cut(out, "\n"); !strings.Contains(head, "workload Deployment/"+tc.app+"  initiator "+tc.want) {
				t.Errorf("kubectl-graceline timeline's header %q does not name Deployment/%s and %s", head, tc.app, tc.want)
			}
		})
	}
}

// TestReportMixedOutcomes runs one Deployment through a rollout of pods
// that exit on SIGTERM (graceful), then scales it to 3 pods that ignore
// SIGTERM and to 0 (killed after a 2 s grace period). The report the
// collector serves for the Deployment must agree with the summaries it
// serves for those pods: the counts, killed, traffic risk, the p50 and p95
// of the delete request to the object's removal, the most common cause and
// the initiators.
func TestReportMixedOutcomes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "report")
	createDeployment(t, ns, "mixed", map[string]string{"app": "mixed"}, 2, 2)
	seen := map[string]corev1.Pod{}
	for _, p := range runningPods(t, ns, "mixed", 2) {
		seen[string(p.UID)] = p
	}
	// The new template ignores SIGTERM; the rollout ends the graceful pods.
	updateTemplate(t, ns, "mixed", func(tpl *corev1.PodTemplateSpec) {
		tpl.Spec.Containers = []corev1.Container{busyboxContainer(ignoresTerm)}
	})
	for _, p := range seen {
		waitGone(t, &p)
	}
	scaleTo(t, ns, "mixed", 3)
	for _, p := range runningPods(t, ns, "mixed", 3) {
		seen[string(p.UID)] = p
	}
	scaleTo(t, ns, "mixed", 0)
	for _, p := range seen {
		waitGone(t, &p)
	}

	// What the summaries say, pod by pod.
	var durs []time.Duration
	var killed, risk, stuck int64
	causes := map[string]int64{}
	causeAt := map[string]time.Time{}
	initiators := map[string]int64{}
	for uid, p := range seen {
		events, sum := finalSummary(t, uid)
		at := func(kind string) time.Time {
			return findWhere(events, kind, func(e *apiv1.Event) bool { return e.Source == apiv1.SourceAPI }).GetTime().AsTime()
		}
		durs = append(durs, at(apiv1.KindPodDeleted).Sub(at(apiv1.KindDeleteRequested)))
		if sum.Verdict == apiv1.VerdictKilled {
			killed++
		}
		if sum.GetTrafficRisk() {
			risk++
		}
		if hasAPI(events, apiv1.KindStuck) {
			stuck++
		}
		if c := summary.PodCause(sum); c != nil {
			causes[c.Cause]++
			if at(apiv1.KindDeleteRequested).After(causeAt[c.Cause]) {
				causeAt[c.Cause] = at(apiv1.KindDeleteRequested)
			}
		}
		initiators[sum.Initiator]++
		t.Logf("pod %s: verdict %s, initiator %s, %s from delete to removal, cause %v", p.Name, sum.Verdict, sum.Initiator, durs[len(durs)-1], summary.PodCause(sum).GetCause())
	}
	// The scenario must be mixed, or the report could not be wrong.
	if killed == 0 || killed == int64(len(seen)) {
		t.Fatalf("%d of %d pods killed: the scenario did not mix graceful and killed pods", killed, len(seen))
	}
	if initiators[apiv1.InitiatorRollout] != 2 || initiators[apiv1.InitiatorScaleDown] != 3 {
		t.Errorf("initiators %v, want 2 rollout (the first template's pods) and 3 scale_down", initiators)
	}
	topCause, topCount := "", int64(0)
	for c, n := range causes {
		if n > topCount || n == topCount && causeAt[c].After(causeAt[topCause]) {
			topCause, topCount = c, n
		}
	}

	out, err := collector.cli("report", "-n", ns, "--since", "1h", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var reports []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("report -o json line %q: %v", line, err)
		}
		reports = append(reports, r)
	}
	if len(reports) != 1 {
		t.Fatalf("report has %d workloads, want Deployment mixed only:\n%s", len(reports), out)
	}
	r := reports[0]
	num := func(k string) int64 {
		// protojson writes int64 as a string; absent means 0.
		var n int64
		if v, ok := r[k]; ok {
			fmt.Sscan(fmt.Sprint(v), &n)
		}
		return n
	}
	dur := func(k string) time.Duration {
		d, err := time.ParseDuration(fmt.Sprint(r[k]))
		if err != nil {
			t.Errorf("%s = %v: %v", k, r[k], err)
		}
		return d
	}
	n := int64(len(seen))
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"terminations", num("terminations"), n}, {"finished", num("finished"), n}, {"killed", num("killed"), killed},
		{"traffic_risk", num("traffic_risk"), risk}, {"stuck", num("stuck"), stuck}, {"cause_count", num("cause_count"), topCount},
	} {
		if c.got != c.want {
			t.Errorf("report's %s = %d, want %d from the summaries", c.name, c.got, c.want)
		}
	}
	if p50, want := dur("duration_p50"), rank(durs, 50); p50 != want {
		t.Errorf("report's p50 %s, want %s from the summaries' pods (%v)", p50, want, durs)
	}
	if p95, want := dur("duration_p95"), rank(durs, 95); p95 != want {
		t.Errorf("report's p95 %s, want %s from the summaries' pods (%v)", p95, want, durs)
	}
	if r["cause"] != topCause {
		t.Errorf("report's cause %v, want %s, the summaries' most common (%v)", r["cause"], topCause, causes)
	}
	if w, _ := r["workload"].(map[string]any); w["kind"] != "Deployment" || w["name"] != "mixed" {
		t.Errorf("report's workload %v, want Deployment mixed", r["workload"])
	}
	table, err := collector.cli("report", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl-graceline report:\n%s", table)
	if !strings.Contains(table, "Deployment/mixed") || !strings.Contains(table, topCause) {
		t.Errorf("the report's table lacks Deployment/mixed or its cause %s", topCause)
	}
}

// rank is the p-th percentile by nearest rank.
func rank(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)*p+99)/100-1]
}

// updateTemplate changes a Deployment's pod template, which rolls it out.
// The Deployment's controller writes its status meanwhile, so an update
// from a read may be stale: it is read again and retried on a conflict.
func updateTemplate(t *testing.T, ns, name string, change func(*corev1.PodTemplateSpec)) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(&d.Spec.Template)
		_, err = client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("roll out a new template of %s: %v", name, err)
	}
}

func scaleTo(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	// Without a resourceVersion the write is unconditional: a scale read
	// first could be stale by the time it is written, as the Deployment's
	// controller writes its status right after its creation.
	s := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}
	if _, err := client.AppsV1().Deployments(ns).UpdateScale(context.Background(), name, s, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scale %s to %d: %v", name, replicas, err)
	}
}
