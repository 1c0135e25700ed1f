package cluster_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// testTerminationChecks runs a pod whose init shell ignores SIGTERM, and
// reads its check with kubectl through the API server: the table's row
// predicts it killed for signal_ignored, the object carries the node's
// reading of the shell, and a user who may view only another namespace is
// refused.
func testTerminationChecks(t *testing.T) {
	ctx := context.Background()
	ns, other := newNamespace(t, "aggcheck"), newNamespace(t, "aggcheckz")
	pod := createRunning(t, busyboxPod(ns, "stubborn", ignoresTerm, 2))

	// The agent reads the container at its start and a few seconds after,
	// when the shell has set its trap; the collector then has its check.
	var row []string
	var listed string
	waitFor(t, collectorTimeout, "the container predicted killed in kubectl get terminationchecks -n "+ns, func() bool {
		r := kubectl(t, "get", "terminationchecks", "-n", ns)
		listed = r.stdout + r.stderr
		row = tableRow(r.stdout, pod.Name)
		return r.err == nil && len(row) == 8 && row[5] == apiv1.VerdictKilled && row[6] == apiv1.CauseSignalIgnored
	})
	t.Logf("kubectl get terminationchecks -n %s:\n%s", ns, listed)
	if header := strings.Fields(strings.SplitN(listed, "\n", 2)[0]); strings.Join(header, " ") != "POD CONTAINER WORKLOAD PID1 DISPOSITION PREDICTED CAUSE AGE" {
		t.Errorf("header %v, want POD CONTAINER WORKLOAD PID1 DISPOSITION PREDICTED CAUSE AGE", header)
	}
	if row[1] != "main" || row[2] != "<none>" || !strings.HasPrefix(row[3], "sh(") || row[4] != summary.DispositionIgnored {
		t.Errorf("row %v, want container main, no workload, sh as PID 1, disposition ignored", row)
	}

	t.Run("the object carries the node's reading of the init shell", func(t *testing.T) {
		r := kubectl(t, "get", "terminationchecks", "-n", ns, "--field-selector", "status.pod="+pod.Name, "-o", "json")
		if r.err != nil {
			t.Fatalf("%v: %s", r.err, r.stderr)
		}
		var list v1alpha1.TerminationCheckList
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
			t.Fatalf("decode %s: %v", r.stdout, err)
		}
		if len(list.Items) != 1 {
			t.Fatalf("%d checks of pod %s, want 1:\n%s", len(list.Items), pod.Name, r.stdout)
		}
		c := list.Items[0]
		st := c.Status
		if c.Name != pod.Name+".main" || st.PodUID != string(pod.UID) || len(st.Readiness.Processes) == 0 || st.Readiness.Processes[0].Comm != "sh" ||
			st.Readiness.StopSignalName != "SIGTERM" || st.Readiness.Disposition != summary.DispositionIgnored || st.Grace == nil || st.Grace.Seconds() != 2 {
			t.Errorf("check %s, want %s.main of uid %s, sh ignoring SIGTERM, grace 2s", r.stdout, pod.Name, pod.UID)
		}
	})

	t.Run("a window that is no duration is a bad request that says so", func(t *testing.T) {
		r := kubectl(t, "get", "terminationchecks", "-n", ns, "--field-selector", "status.window=soon")
		if r.err == nil || !strings.Contains(r.stderr, "want a positive duration") {
			t.Errorf("status.window=soon: %v, stderr %q; want a bad request", r.err, r.stderr)
		}
	})

	t.Run("a user who may view another namespace is refused this one's checks", func(t *testing.T) {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "dave-view", Namespace: other},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "dave"}},
		}
		if _, err := client.RbacV1().RoleBindings(other).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The view role gains graceline's rules when the controller
		// manager aggregates them: dave reads his own namespace first.
		var own kubeResult
		waitFor(t, time.Minute, "dave listing the checks of "+other, func() bool {
			own = kubectl(t, "get", "terminationchecks", "-n", other, "--as", "dave")
			return own.err == nil
		})
		for _, args := range [][]string{{"-n", ns}, {"-A"}} {
			r := kubectl(t, append([]string{"get", "terminationchecks", "--as", "dave"}, args...)...)
			if r.err == nil || !strings.Contains(r.stderr, "forbidden") {
				t.Errorf("dave listing checks %v: %v, stderr %q; want forbidden", args, r.err, r.stderr)
			}
		}
	})
}

// tableRow returns the fields of the row of kubectl's table whose first
// column is first, nil when there is none.
func tableRow(table, first string) []string {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			return f
		}
	}
	return nil
}
