package deploy

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// A client is a pod that connects to the collector, known to a
// NetworkPolicy by its namespace and its labels.
type client struct {
	namespace string
	labels    map[string]string
}

// unnamedNamespace is a namespace that no variant names in its policy.
const unnamedNamespace = "unnamed"

// namespaceLabels are the labels the API server puts on every namespace,
// which a policy's namespaceSelector can match.
func namespaceLabels(name string) labels.Set {
	return labels.Set{"kubernetes.io/metadata.name": name}
}

// networkPolicies returns the rendering's NetworkPolicies.
func networkPolicies(r *rendering) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, o := range r.ofKind("NetworkPolicy") {
		out = append(out, o.(*networkingv1.NetworkPolicy))
	}
	return out
}

// selects tells whether a policy applies to a pod of the given labels in
// the graceline namespace, which is where every rendered object is.
func selects(np *networkingv1.NetworkPolicy, podLabels map[string]string) (bool, error) {
	s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return false, fmt.Errorf("NetworkPolicy %s: pod selector: %w", np.Name, err)
	}
	return np.Namespace == namespace && s.Matches(labels.Set(podLabels)), nil
}

// restricts tells whether a policy restricts the ingress, or the egress,
// of the pods it selects. Without policyTypes, it restricts ingress, and
// egress when it has egress rules.
func restricts(np *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(np.Spec.PolicyTypes) == 0 {
		return t == networkingv1.PolicyTypeIngress || len(np.Spec.Egress) > 0
	}
	return slices.Contains(np.Spec.PolicyTypes, t)
}

// admits tells whether the policies let a client reach a pod of the given
// labels on one of its container ports, as the NetworkPolicy API defines
// it: a pod no policy restricts admits everyone, else the union of the
// rules of the policies that restrict it decides. An ipBlock is taken to
// hold every pod, since pod addresses may lie in it.
func admits(policies []*networkingv1.NetworkPolicy, podLabels map[string]string, port corev1.ContainerPort, from client) (bool, error) {
	restricted := false
	for _, np := range policies {
		ok, err := selects(np, podLabels)
		if err != nil {
			return false, err
		}
		if !ok || !restricts(np, networkingv1.PolicyTypeIngress) {
			continue
		}
		restricted = true
		for _, rule := range np.Spec.Ingress {
			peerOK := len(rule.From) == 0
			for _, peer := range rule.From {
				m, err := peerMatches(peer, np.Namespace, from)
				if err != nil {
					return false, fmt.Errorf("NetworkPolicy %s: %w", np.Name, err)
				}
				peerOK = peerOK || m
			}
			portOK := len(rule.Ports) == 0
			for _, p := range rule.Ports {
				portOK = portOK || portMatches(p, port)
			}
			if peerOK && portOK {
				return true, nil
			}
		}
	}
	return !restricted, nil
}

// peerMatches tells whether a client is one of a rule's peers. A
// podSelector alone selects pods in the policy's own namespace; a
// namespaceSelector, pods in the namespaces it matches.
func peerMatches(peer networkingv1.NetworkPolicyPeer, policyNamespace string, from client) (bool, error) {
	if peer.IPBlock != nil {
		return true, nil
	}
	nsOK := from.namespace == policyNamespace
	if peer.NamespaceSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
		if err != nil {
			return false, fmt.Errorf("namespace selector: %w", err)
		}
		nsOK = s.Matches(namespaceLabels(from.namespace))
	}
	podOK := true
	if peer.PodSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
		if err != nil {
			return false, fmt.Errorf("pod selector: %w", err)
		}
		podOK = s.Matches(labels.Set(from.labels))
	}
	return nsOK && podOK, nil
}

// portMatches tells whether a policy's port is the container's port: by
// name, or by number (up to endPort), and by protocol (TCP when unsaid).
// A policy port without a port means every port of the protocol.
func portMatches(p networkingv1.NetworkPolicyPort, port corev1.ContainerPort) bool {
	want, got := corev1.ProtocolTCP, corev1.ProtocolTCP
	if p.Protocol != nil {
		want = *p.Protocol
	}
	if port.Protocol != "" {
		got = port.Protocol
	}
	switch {
	case want != got:
		return false
	case p.Port == nil:
		return true
	case p.Port.Type == intstr.String:
		return p.Port.StrVal == port.Name
	}
	end := p.Port.IntVal
	if p.EndPort != nil {
		end = *p.EndPort
	}
	return port.ContainerPort >= p.Port.IntVal && port.ContainerPort <= end
}

// collectorPorts returns the collector container's ports by name.
func collectorPorts(r *rendering) map[string]corev1.ContainerPort {
	ports := map[string]corev1.ContainerPort{}
	for _, p := range r.pod(collectorName).Containers[0].Ports {
		ports[p.Name] = p
	}
	return ports
}

// podLabels returns the labels of the named workload's pod template.
func podLabels(r *rendering, name string) map[string]string {
	for _, p := range r.pods() {
		if p.name == name {
			return p.meta.Labels
		}
	}
	return nil
}

// A reach is one client's connection to one of the collector's ports, and
// whether the policy must let it through.
type reach struct {
	who  string
	from client
	port string
	want bool
}

// collectorReaches is what the policy must decide. The collector's ports
// carry: grpc, ingest (agents) and queries (kubectl-graceline); http,
// queries (/api/) and metrics (Prometheus). The collector's own namespace
// is a query namespace, and the variant may name more query and metrics
// namespaces.
func collectorReaches(r *rendering) []reach {
	agent := podLabels(r, agentName)
	out := []reach{
		{"an agent", client{namespace, agent}, "grpc", true},
		{"a pod labelled as an agent in an unnamed namespace", client{unnamedNamespace, agent}, "grpc", false},
		{"a pod labelled as an agent in an unnamed namespace", client{unnamedNamespace, agent}, "http", false},
		{"a pod in an unnamed namespace", client{unnamedNamespace, nil}, "grpc", false},
		{"a pod in an unnamed namespace", client{unnamedNamespace, nil}, "http", false},
	}
	query := append([]string{namespace}, r.variant.queryNamespaces...)
	for _, ns := range query {
		who := "a pod in query namespace " + ns
		out = append(out, reach{who, client{ns, nil}, "grpc", true}, reach{who, client{ns, nil}, "http", true})
	}
	for _, ns := range r.variant.metricsNamespaces {
		if slices.Contains(query, ns) {
			continue
		}
		who := "a pod in metrics namespace " + ns
		out = append(out, reach{who, client{ns, nil}, "http", true}, reach{who, client{ns, nil}, "grpc", false})
	}
	return out
}

// checkCollectorIngress holds the policy to its intent: only agents reach
// ingest, and of the other namespaces only those named reach queries or
// metrics. Where two of these share a port, the tokens' roles tell them
// apart, not the policy.
func checkCollectorIngress(r *rendering) (problems []string) {
	policies := networkPolicies(r)
	target := podLabels(r, collectorName)
	ports := collectorPorts(r)
	for _, c := range collectorReaches(r) {
		port, ok := ports[c.port]
		if !ok {
			problems = append(problems, fmt.Sprintf("the collector declares no port %s", c.port))
			continue
		}
		got, err := admits(policies, target, port, c.from)
		if err != nil {
			return append(problems, err.Error())
		}
		if got != c.want {
			verb := "reaches"
			if !got {
				verb = "does not reach"
			}
			problems = append(problems, fmt.Sprintf("%s %s the collector's %s port", c.who, verb, c.port))
		}
	}
	return problems
}

// checkCollectorEgress wants no policy to restrict the collector's egress:
// its cluster side watches the API server, whose address a NetworkPolicy
// cannot name portably.
func checkCollectorEgress(r *rendering) (problems []string) {
	for _, np := range networkPolicies(r) {
		ok, err := selects(np, podLabels(r, collectorName))
		if err != nil {
			return append(problems, err.Error())
		}
		if ok && restricts(np, networkingv1.PolicyTypeEgress) {
			problems = append(problems, fmt.Sprintf("NetworkPolicy %s restricts the collector's egress, which its API watches need", np.Name))
		}
	}
	return problems
}

// checkNetworkPolicyWiring wants each NetworkPolicy to select the
// collector's pods and no other, to admit by pod selector only pods that
// are rendered, to name only ports the collector declares, and to open
// each port of the collector Service to someone.
func checkNetworkPolicyWiring(r *rendering) (problems []string) {
	policies := networkPolicies(r)
	ports := collectorPorts(r)
	for _, np := range policies {
		for _, p := range r.pods() {
			ok, err := selects(np, p.meta.Labels)
			if err != nil {
				return append(problems, err.Error())
			}
			if want := p.name == collectorName; ok != want {
				problems = append(problems, fmt.Sprintf("NetworkPolicy %s selects %s: %v, want %v", np.Name, p.owner, ok, want))
			}
		}
		for i, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				if peer.PodSelector == nil || peer.NamespaceSelector != nil {
					continue
				}
				// A pod selector of this namespace names graceline's own
				// pods: one that selects none is a typo, which the
				// collector's namespace, a query namespace, would hide.
				found := false
				for _, p := range r.pods() {
					m, err := peerMatches(peer, np.Namespace, client{namespace, p.meta.Labels})
					if err != nil {
						return append(problems, fmt.Sprintf("NetworkPolicy %s: %v", np.Name, err))
					}
					found = found || m && p.name != collectorName
				}
				if !found {
					problems = append(problems, fmt.Sprintf("NetworkPolicy %s, ingress rule %d: pod selector %v selects no pod of graceline's", np.Name, i, peer.PodSelector))
				}
			}
			for _, rp := range rule.Ports {
				declared := false
				for _, port := range ports {
					declared = declared || portMatches(rp, port)
				}
				if !declared {
					problems = append(problems, fmt.Sprintf("NetworkPolicy %s, ingress rule %d: port %s is none of the collector's", np.Name, i, rp.Port))
				}
			}
		}
	}
	if len(policies) == 0 {
		return problems // Without a policy every port is open.
	}
	svc, _, err := collectorService(r)
	if err != nil {
		return append(problems, err.Error())
	}
	for _, sp := range svc.Spec.Ports {
		port, ok := ports[sp.TargetPort.String()]
		if !ok {
			continue // checkService reports it.
		}
		open := false
		for _, np := range policies {
			for _, rule := range np.Spec.Ingress {
				for _, rp := range rule.Ports {
					open = open || portMatches(rp, port)
				}
				open = open || len(rule.Ports) == 0
			}
		}
		if !open {
			problems = append(problems, fmt.Sprintf("the Service's port %s reaches the collector's %s, which no NetworkPolicy rule opens", sp.Name, port.Name))
		}
	}
	return problems
}
