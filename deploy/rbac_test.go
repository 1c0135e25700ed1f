package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
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

var rbacChecks = []check{
	{"the collector may only get, list and watch pods, EndpointSlices, nodes and the pods' owners", checkCollectorRole},
	{"the collector's role is bound to its ServiceAccount and nothing else is bound", checkBindings},
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
	roles := r.ofKind("ClusterRole")
	if len(roles) != 1 || roles[0].GetName() != collectorName {
		return []string{fmt.Sprintf("want one ClusterRole, %s; got %d", collectorName, len(roles))}
	}
	got := permissions(roles[0].(*rbacv1.ClusterRole).Rules)
	if !slices.Equal(got, collectorPermissions) {
		return []string{fmt.Sprintf("permissions:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(collectorPermissions, "\n  "))}
	}
	return nil
}

func checkBindings(r *rendering) []string {
	bindings := r.ofKind("ClusterRoleBinding")
	if len(bindings) != 1 {
		return []string{fmt.Sprintf("want one ClusterRoleBinding, got %d", len(bindings))}
	}
	b := bindings[0].(*rbacv1.ClusterRoleBinding)
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: collectorName, Namespace: namespace}}
	var problems []string
	if b.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: collectorName}) {
		problems = append(problems, fmt.Sprintf("binds %+v, want ClusterRole %s", b.RoleRef, collectorName))
	}
	if !slices.Equal(b.Subjects, want) {
		problems = append(problems, fmt.Sprintf("subjects %+v, want %+v", b.Subjects, want))
	}
	return problems
}
