package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// collectorPermissions is everything the collector may do through the API:
// read pods, EndpointSlices and nodes, and the pods' owners that tell who
// started a deletion, as "group/resource verb".
var collectorPermissions = []string{
	"/nodes get", "/nodes list", "/nodes watch",
	"/pods get", "/pods list", "/pods watch",
	"apps/deployments get", "apps/deployments list", "apps/deployments watch",
	"apps/replicasets get", "apps/replicasets list", "apps/replicasets watch",
	"apps/statefulsets get", "apps/statefulsets list", "apps/statefulsets watch",
	"batch/jobs get", "batch/jobs list", "batch/jobs watch",
	"discovery.k8s.io/endpointslices get", "discovery.k8s.io/endpointslices list", "discovery.k8s.io/endpointslices watch",
}

// readerRole is the ClusterRole aggregated to view, edit and admin that
// lets readers of a namespace read its terminations.
const readerRole = "graceline-terminations-reader"

// readerPermissions is everything readerRole allows.
var readerPermissions = []string{
	"graceline.dev/podterminations get", "graceline.dev/podterminations list", "graceline.dev/podterminations watch",
	"graceline.dev/podterminations/timeline get", "graceline.dev/podterminations/timeline list", "graceline.dev/podterminations/timeline watch",
	"graceline.dev/stuckpods get", "graceline.dev/stuckpods list", "graceline.dev/stuckpods watch",
	"graceline.dev/terminationchecks get", "graceline.dev/terminationchecks list", "graceline.dev/terminationchecks watch",
	"graceline.dev/workloadreports get", "graceline.dev/workloadreports list", "graceline.dev/workloadreports watch",
}

var rbacChecks = []check{
	{"the collector may only get, list and watch pods, EndpointSlices, nodes and the pods' owners", checkCollectorRole},
	{"whoever may view a namespace may read its terminations, and the role allows nothing else", checkReaderRole},
	{"the collector's role and the auth delegation are bound to its ServiceAccount and nothing else is bound", checkBindings},
	{"the APIService points at the collector Service's api port", checkAPIService},
	{"a collector that reviews agents' tokens may create TokenReviews", checkTokenReviews},
}

// checkTokenReviews wants a collector given --agent-service-account bound
// to system:auth-delegator, the bootstrap role that allows creating
// TokenReviews (and SubjectAccessReviews): without it every agent's token
// would be refused as review_failed.
func checkTokenReviews(r *rendering) []string {
	if _, reviews := flagValue(r.pod(collectorName).Containers[0].Args, "agent-service-account"); !reviews {
		return nil
	}
	for _, o := range r.ofKind("ClusterRoleBinding") {
		b := o.(*rbacv1.ClusterRoleBinding)
		if b.RoleRef.Kind == "ClusterRole" && b.RoleRef.Name == "system:auth-delegator" &&
			slices.Contains(b.Subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: collectorName, Namespace: namespace}) {
			return nil
		}
	}
	return []string{"the collector reviews agents' tokens (--agent-service-account) but is not bound to system:auth-delegator"}
}

func TestRBAC(t *testing.T) {
	eachRendering(t, func(t *testing.T, r *rendering) { runChecks(t, r, rbacChecks) })
}

// permissions expands a role's rules into sorted "group/resource verb"
// strings; a wildcard, a resource name or a non-resource URL is reported as
// is, so that it can never match the expected list.
func permissions(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, rule := range rules {
		if len(rule.ResourceNames) > 0 || len(rule.NonResourceURLs) > 0 {
			out = append(out, fmt.Sprintf("restricted rule %+v", rule))
		}
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					out = append(out, g+"/"+res+" "+v)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func checkCollectorRole(r *rendering) []string {
	var names []string
	for _, o := range r.ofKind("ClusterRole") {
		names = append(names, o.GetName())
	}
	slices.Sort(names)
	if want := []string{collectorName, readerRole}; !slices.Equal(names, want) {
		return []string{fmt.Sprintf("ClusterRoles %v, want %v", names, want)}
	}
	got := permissions(r.find("ClusterRole", collectorName).(*rbacv1.ClusterRole).Rules)
	if !slices.Equal(got, collectorPermissions) {
		return []string{fmt.Sprintf("permissions:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(collectorPermissions, "\n  "))}
	}
	return nil
}

func checkReaderRole(r *rendering) (problems []string) {
	o := r.find("ClusterRole", readerRole)
	if o == nil {
		return []string{"no ClusterRole " + readerRole}
	}
	role := o.(*rbacv1.ClusterRole)
	for _, to := range []string{"view", "edit", "admin"} {
		if role.Labels["rbac.authorization.k8s.io/aggregate-to-"+to] != "true" {
			problems = append(problems, fmt.Sprintf("%s is not aggregated to %s", readerRole, to))
		}
	}
	if got := permissions(role.Rules); !slices.Equal(got, readerPermissions) {
		problems = append(problems, fmt.Sprintf("%s permissions:\n  %s\nwant:\n  %s", readerRole, strings.Join(got, "\n  "), strings.Join(readerPermissions, "\n  ")))
	}
	return problems
}

// wantBindings are every binding rendered, by kind/namespace/name, with
// the role each binds to the collector's ServiceAccount.
var wantBindings = map[string]rbacv1.RoleRef{
	"ClusterRoleBinding//" + collectorName:                    {APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: collectorName},
	"ClusterRoleBinding//graceline-collector-auth-delegator":  {APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
	"RoleBinding/kube-system/graceline-collector-auth-reader": {APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"},
}

func checkBindings(r *rendering) (problems []string) {
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: collectorName, Namespace: namespace}}
	seen := 0
	for _, o := range r.objects {
		var ref rbacv1.RoleRef
		var subjects []rbacv1.Subject
		switch b := o.obj.(type) {
		case *rbacv1.ClusterRoleBinding:
			ref, subjects = b.RoleRef, b.Subjects
		case *rbacv1.RoleBinding:
			ref, subjects = b.RoleRef, b.Subjects
		default:
			continue
		}
		seen++
		wantRef, ok := wantBindings[o.key()]
		if !ok {
			problems = append(problems, o.key()+" is not one of graceline's bindings")
			continue
		}
		if ref != wantRef {
			problems = append(problems, fmt.Sprintf("%s binds %+v, want %+v", o.key(), ref, wantRef))
		}
		if !slices.Equal(subjects, want) {
			problems = append(problems, fmt.Sprintf("%s subjects %+v, want %+v", o.key(), subjects, want))
		}
	}
	if seen != len(wantBindings) {
		problems = append(problems, fmt.Sprintf("%d bindings rendered, want %d", seen, len(wantBindings)))
	}
	return problems
}

func checkAPIService(r *rendering) (problems []string) {
	o := r.find("APIService", "v1alpha1.graceline.dev")
	if o == nil {
		return []string{"no APIService v1alpha1.graceline.dev"}
	}
	spec := o.(*apiregistrationv1.APIService).Spec
	if spec.Group != "graceline.dev" || spec.Version != "v1alpha1" {
		problems = append(problems, fmt.Sprintf("APIService serves %s/%s, want graceline.dev/v1alpha1", spec.Group, spec.Version))
	}
	if s := spec.Service; s == nil || s.Name != collectorName || s.Namespace != namespace || s.Port == nil || *s.Port != 443 {
		problems = append(problems, fmt.Sprintf("APIService service %+v, want %s/%s port 443", s, namespace, collectorName))
	}
	svc, ok := r.find("Service", collectorName).(*corev1.Service)
	if !ok {
		return append(problems, "no collector Service")
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == 443 {
			if p.TargetPort.String() != "api" {
				problems = append(problems, fmt.Sprintf("the Service's port 443 targets %s, want the collector's api port", p.TargetPort.String()))
			}
			return problems
		}
	}
	return append(problems, "the collector Service has no port 443 for the APIService")
}
