package deploy

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// A mistake breaks a good rendering in one of the ways a check is there
// for.
type mistake struct {
	name   string
	check  func(*rendering) []string
	mutate func(*rendering)
}

// cniMount returns the agent's mount at the CNI bin dir, which must exist.
func cniMount(r *rendering, dir string) *corev1.VolumeMount {
	mounts := r.pod(agentName).Containers[0].VolumeMounts
	for i := range mounts {
		if mounts[i].MountPath == dir {
			return &mounts[i]
		}
	}
	panic("no agent mount at " + dir)
}

// cniVolume returns the agent's volume mounted at the CNI bin dir.
func cniVolume(r *rendering, dir string) *corev1.Volume {
	name := cniMount(r, dir).Name
	volumes := r.pod(agentName).Volumes
	for i := range volumes {
		if volumes[i].Name == name {
			return &volumes[i]
		}
	}
	panic("no agent volume " + name)
}

// tokensVolume returns the collector's volume of the Secret with its
// tokens, which must exist.
func tokensVolume(r *rendering) *corev1.Volume {
	volumes := r.pod(collectorName).Volumes
	for i := range volumes {
		if s := volumes[i].Secret; s != nil && s.SecretName == collectorTokensSecret {
			return &volumes[i]
		}
	}
	panic("no collector volume of Secret " + collectorTokensSecret)
}

// collectorPolicy returns the collector's NetworkPolicy, which must exist.
func collectorPolicy(r *rendering) *networkingv1.NetworkPolicy {
	return r.find("NetworkPolicy", collectorName).(*networkingv1.NetworkPolicy)
}

// namespaceValues returns the namespace names of an ingress rule's first
// peer, which the manifests list in one In expression.
func namespaceValues(r *rendering, rule int) *[]string {
	return &collectorPolicy(r).Spec.Ingress[rule].From[0].NamespaceSelector.MatchExpressions[0].Values
}

// TestChecksCatchMistakes makes sure that every kind of check can fail: each
// mistake, made on a copy of a good rendering, must be reported by its
// check, which finds nothing wrong with the original.
func TestChecksCatchMistakes(t *testing.T) {
	agent := func(r *rendering) *corev1.Container { return &r.pod(agentName).Containers[0] }
	collector := func(r *rendering) *corev1.Container { return &r.pod(collectorName).Containers[0] }
	yes, no := true, false
	groups := []struct {
		name     string
		mistakes []mistake
	}{
		{"security posture", []mistake{
			{"a privileged agent is caught", checkUnprivileged, func(r *rendering) { agent(r).SecurityContext.Privileged = &yes }},
			{"a collector that may escalate is caught", checkUnprivileged, func(r *rendering) { collector(r).SecurityContext.AllowPrivilegeEscalation = nil }},
			{"an agent that keeps the default capabilities is caught", checkDropAll, func(r *rendering) { agent(r).SecurityContext.Capabilities.Drop = nil }},
			{"an agent with CAP_SYS_ADMIN is caught", checkAddedCapabilities, func(r *rendering) {
				c := agent(r).SecurityContext.Capabilities
				c.Add = append(c.Add, "SYS_ADMIN")
			}},
			{"an agent without CAP_PERFMON is caught", checkAddedCapabilities, func(r *rendering) {
				c := agent(r).SecurityContext.Capabilities
				c.Add = slices.DeleteFunc(c.Add, func(c corev1.Capability) bool { return c == "PERFMON" })
			}},
			{"a writable root filesystem is caught", checkReadOnlyRoot, func(r *rendering) { collector(r).SecurityContext.ReadOnlyRootFilesystem = &no }},
			{"a container without a memory limit is caught", checkResources, func(r *rendering) { delete(agent(r).Resources.Limits, corev1.ResourceMemory) }},
			{"a collector without a readiness probe is caught", checkProbes, func(r *rendering) { collector(r).ReadinessProbe = nil }},
			{"a collector running as root is caught", checkUsers, func(r *rendering) { r.pod(collectorName).SecurityContext.RunAsUser = new(int64) }},
			{"a collector without seccomp is caught", checkSeccomp, func(r *rendering) { r.pod(collectorName).SecurityContext.SeccompProfile = nil }},
			{"an agent on the host network is caught", checkHostNamespaces, func(r *rendering) { r.pod(agentName).HostNetwork = true }},
			{"an agent that tolerates only some taints is caught", checkTolerations, func(r *rendering) {
				r.pod(agentName).Tolerations[0].Key = "node-role.kubernetes.io/control-plane"
			}},
			{"a writable kubelet root is caught", checkHostPaths, func(r *rendering) {
				for i, vm := range agent(r).VolumeMounts {
					if vm.Name == "kubelet" {
						agent(r).VolumeMounts[i].ReadOnly = false
					}
				}
			}},
			{"a host /proc mount is caught", checkHostPaths, func(r *rendering) {
				spec := r.pod(agentName)
				spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "proc", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/proc"}}})
				agent(r).VolumeMounts = append(agent(r).VolumeMounts, corev1.VolumeMount{Name: "proc", MountPath: "/host/proc", ReadOnly: true})
			}},
			{"a writable CNI bin dir is caught", checkHostPaths, func(r *rendering) { cniMount(r, "/opt/cni/bin").ReadOnly = false }},
			{"an agent that gets an API token is caught", checkAgentToken, func(r *rendering) { r.pod(agentName).AutomountServiceAccountToken = nil }},
			{"an agent token issued for the API server, which would take it, is caught", checkAgentToken, func(r *rendering) {
				for _, v := range r.pod(agentName).Volumes {
					if v.Projected != nil {
						v.Projected.Sources[0].ServiceAccountToken.Audience = ""
					}
				}
			}},
			{"a collector that no longer reviews agents' node-bound tokens is caught", checkAgentToken, func(r *rendering) {
				collector(r).Args = slices.DeleteFunc(collector(r).Args, func(a string) bool { return strings.HasPrefix(a, "--agent-service-account=") })
			}},
			{"a collector without its API token is caught", checkCollectorClusterSide, func(r *rendering) { collector(r).VolumeMounts = nil }},
			{"an automounted token, which every container would get, is caught", checkCollectorClusterSide, func(r *rendering) {
				r.pod(collectorName).AutomountServiceAccountToken = &yes
			}},
			{"a sidecar given the API token is caught", checkCollectorClusterSide, func(r *rendering) {
				spec := r.pod(collectorName)
				spec.Containers = append(spec.Containers, corev1.Container{Name: "sidecar", VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access", MountPath: tokenPath, ReadOnly: true}}})
			}},
			{"an init container given the API token is caught", checkCollectorClusterSide, func(r *rendering) {
				spec := r.pod(collectorName)
				spec.InitContainers = append(spec.InitContainers, corev1.Container{Name: "setup", VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access", MountPath: tokenPath, ReadOnly: true}}})
			}},
			{"a collector whose cluster side is left to auto is caught", checkCollectorClusterSide, func(r *rendering) {
				collector(r).Args = slices.DeleteFunc(collector(r).Args, func(a string) bool { return strings.HasPrefix(a, "--kubernetes=") })
			}},
			{"a token file that others may read (mode 0444) is caught", checkCollectorTokenFile, func(r *rendering) {
				mode := int32(0o444)
				tokensVolume(r).Secret.DefaultMode = &mode
			}},
			{"a token file that its group may write (item mode 0460) is caught", checkCollectorTokenFile, func(r *rendering) {
				mode := int32(0o460)
				tokensVolume(r).Secret.Items[0].Mode = &mode
			}},
			{"a writable token mount is caught", checkCollectorTokenFile, func(r *rendering) {
				for i, vm := range collector(r).VolumeMounts {
					if vm.Name == tokensVolume(r).Name {
						collector(r).VolumeMounts[i].ReadOnly = false
					}
				}
			}},
			{"a collector pod without fsGroup is caught", checkCollectorTokenFile, func(r *rendering) {
				r.pod(collectorName).SecurityContext.FSGroup = nil
			}},
			{"a missing priority class is caught", checkPriority, func(r *rendering) { r.pod(agentName).PriorityClassName = "system-node-critical" }},
			{"a rolling collector is caught", checkCollectorRollout, func(r *rendering) {
				r.find("Deployment", collectorName).(*appsv1.Deployment).Spec.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
			}},
		}},
		{"wiring", []mistake{
			{"a mount of a missing volume is caught", checkVolumes, func(r *rendering) { agent(r).VolumeMounts[0].Name = "runtime-socket" }},
			{"an unset $(VAR) is caught", checkEnvRefs, func(r *rendering) { agent(r).Env = nil }},
			{"a socket outside the mounted runtime directory is caught", checkPathsMounted, func(r *rendering) {
				agent(r).Args[0] = "--cri-endpoint=unix:///var/run/crio/crio.sock"
			}},
			{"a second --cni-bin-dir outside the mounts is caught", checkPathsMounted, func(r *rendering) {
				agent(r).Args = append(agent(r).Args, "--cni-bin-dir=/home/kubernetes/bin")
			}},
			{"a CNI bin dir dropped from --cni-bin-dir is caught", checkCNIBinDirs, func(r *rendering) {
				for i, a := range agent(r).Args {
					if strings.HasPrefix(a, "--cni-bin-dir=") {
						agent(r).Args[i] = "--cni-bin-dir=/opt/cni/bin"
					}
				}
			}},
			{"a CNI bin dir mounted under another path is caught", checkCNIBinDirs, func(r *rendering) {
				cniMount(r, "/usr/lib/cni").MountPath = "/host/usr/lib/cni"
			}},
			{"a writable CNI bin dir is caught by its own check too", checkCNIBinDirs, func(r *rendering) { cniMount(r, "/usr/lib/cni").ReadOnly = false }},
			{"a CNI bin dir that the kubelet would create is caught", checkCNIBinDirs, func(r *rendering) {
				create := corev1.HostPathDirectoryOrCreate
				cniVolume(r, "/usr/libexec/cni").HostPath.Type = &create
			}},
			{"a CNI bin dir that must exist is caught", checkCNIBinDirs, func(r *rendering) {
				dir := corev1.HostPathDirectory
				cniVolume(r, "/usr/libexec/cni").HostPath.Type = &dir
			}},
			{"a CNI bin dir fed from another host path is caught", checkCNIBinDirs, func(r *rendering) {
				cniVolume(r, "/opt/cni/bin").HostPath.Path = "/var/lib/cni/bin"
			}},
			{"a metrics address on an undeclared port is caught", checkPorts, func(r *rendering) {
				for i, a := range agent(r).Args {
					if strings.HasPrefix(a, "--metrics-address=") {
						agent(r).Args[i] = "--metrics-address=:9100"
					}
				}
			}},
			{"a Service that targets a missing port is caught", checkService, func(r *rendering) {
				r.find("Service", collectorName).(*corev1.Service).Spec.Ports[0].TargetPort.StrVal = "ingest"
			}},
			{"an agent dialling another Service is caught", checkCollectorAddress, func(r *rendering) {
				for i, a := range agent(r).Args {
					if strings.HasPrefix(a, "--collector=") {
						agent(r).Args[i] = "--collector=collector:7070"
					}
				}
			}},
			{"an object in another namespace is caught", checkNamespaces, func(r *rendering) {
				r.find("Service", collectorName).(*corev1.Service).Namespace = "default"
			}},
		}},
		{"network policy", []mistake{
			{"no policy at all is caught", checkCollectorIngress, func(r *rendering) {
				r.objects = slices.DeleteFunc(r.objects, func(o object) bool { return o.kind == "NetworkPolicy" })
			}},
			{"a policy whose selector misses the collector's pods is caught", checkCollectorIngress, func(r *rendering) {
				collectorPolicy(r).Spec.PodSelector.MatchLabels = map[string]string{"app": collectorName}
			}},
			{"agents kept off ingest by a label their pods lack is caught", checkNetworkPolicyWiring, func(r *rendering) {
				collectorPolicy(r).Spec.Ingress[0].From[0].PodSelector.MatchLabels = map[string]string{"app": agentName}
			}},
			{"ingest open to pods labelled as agents in every namespace is caught", checkCollectorIngress, func(r *rendering) {
				collectorPolicy(r).Spec.Ingress[0].From[0].NamespaceSelector = &metav1.LabelSelector{}
			}},
			{"queries open to every namespace are caught", checkCollectorIngress, func(r *rendering) {
				collectorPolicy(r).Spec.Ingress[1].From = nil
			}},
			{"the collector's own namespace left out of the query namespaces is caught", checkCollectorIngress, func(r *rendering) {
				*namespaceValues(r, 1) = []string{"default"}
			}},
			{"an address range that holds every pod is caught", checkCollectorIngress, func(r *rendering) {
				p := collectorPolicy(r)
				p.Spec.Ingress[0].From = append(p.Spec.Ingress[0].From, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}})
			}},
			{"a restricted egress, which would cut the API watches, is caught", checkCollectorEgress, func(r *rendering) {
				p := collectorPolicy(r)
				p.Spec.PolicyTypes = append(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
			}},
			{"a policy that also selects the agents is caught", checkNetworkPolicyWiring, func(r *rendering) {
				collectorPolicy(r).Spec.PodSelector.MatchLabels = map[string]string{"app.kubernetes.io/part-of": "graceline"}
			}},
			{"a policy whose selector misses the collector's pods is caught by its wiring check too", checkNetworkPolicyWiring, func(r *rendering) {
				collectorPolicy(r).Spec.PodSelector.MatchLabels = map[string]string{"app.kubernetes.io/name": "collector"}
			}},
			{"a rule on a port name the collector does not declare is caught", checkNetworkPolicyWiring, func(r *rendering) {
				collectorPolicy(r).Spec.Ingress[0].Ports[0].Port = &intstr.IntOrString{Type: intstr.String, StrVal: "ingest"}
			}},
			{"a rule on a port number the collector does not listen on is caught", checkNetworkPolicyWiring, func(r *rendering) {
				port := intstr.FromInt32(7072)
				collectorPolicy(r).Spec.Ingress[1].Ports[1].Port = &port
			}},
			{"a rule on the right port but over UDP is caught", checkNetworkPolicyWiring, func(r *rendering) {
				udp := corev1.ProtocolUDP
				collectorPolicy(r).Spec.Ingress[0].Ports[0].Protocol = &udp
			}},
			{"a Service port that no rule opens is caught", checkNetworkPolicyWiring, func(r *rendering) {
				p := collectorPolicy(r)
				p.Spec.Ingress[1].Ports = p.Spec.Ingress[1].Ports[:1]
				p.Spec.Ingress = p.Spec.Ingress[:2]
			}},
		}},
		{"RBAC", []mistake{
			{"reading Secrets is caught", checkCollectorRole, func(r *rendering) {
				role := r.find("ClusterRole", collectorName).(*rbacv1.ClusterRole)
				role.Rules[0].Resources = append(role.Rules[0].Resources, "secrets")
			}},
			{"deleting pods is caught", checkCollectorRole, func(r *rendering) {
				role := r.find("ClusterRole", collectorName).(*rbacv1.ClusterRole)
				role.Rules[0].Verbs = append(role.Rules[0].Verbs, "delete")
			}},
			{"a wildcard verb is caught", checkCollectorRole, func(r *rendering) {
				r.find("ClusterRole", collectorName).(*rbacv1.ClusterRole).Rules[1].Verbs = []string{"*"}
			}},
			{"binding the agent too is caught", checkBindings, func(r *rendering) {
				b := r.find("ClusterRoleBinding", collectorName).(*rbacv1.ClusterRoleBinding)
				b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: agentName, Namespace: namespace})
			}},
		}},
	}
	for _, tool := range tools {
		good := render(t, tool, variants[0])
		for _, g := range groups {
			for _, m := range g.mistakes {
				t.Run(tool+", "+g.name+": "+m.name, func(t *testing.T) { catchMistake(t, good, m) })
			}
		}
	}
}

// TestNetworkPolicyChecksCatchNamespaceMistakes makes, on the variant that
// names more query and metrics namespaces, the mistakes that only such a
// list can show.
func TestNetworkPolicyChecksCatchNamespaceMistakes(t *testing.T) {
	i := slices.IndexFunc(variants, func(v variant) bool { return len(v.metricsNamespaces) > 0 && len(v.queryNamespaces) > 1 })
	if i < 0 {
		t.Fatal("no variant names more query and metrics namespaces")
	}
	mistakes := []mistake{
		{"a named query namespace dropped is caught", checkCollectorIngress, func(r *rendering) {
			*namespaceValues(r, 1) = slices.DeleteFunc(*namespaceValues(r, 1), func(ns string) bool { return ns == r.variant.queryNamespaces[1] })
		}},
		{"a metrics namespace shut out is caught", checkCollectorIngress, func(r *rendering) {
			p := collectorPolicy(r)
			p.Spec.Ingress = p.Spec.Ingress[:2]
		}},
		{"a metrics namespace let onto the gRPC port is caught", checkCollectorIngress, func(r *rendering) {
			*namespaceValues(r, 1) = append(*namespaceValues(r, 1), r.variant.metricsNamespaces...)
		}},
		{"a query namespace given only metrics is caught", checkCollectorIngress, func(r *rendering) {
			*namespaceValues(r, 2) = append(*namespaceValues(r, 2), r.variant.queryNamespaces...)
			*namespaceValues(r, 1) = []string{namespace}
		}},
	}
	for _, tool := range tools {
		good := render(t, tool, variants[i])
		for _, m := range mistakes {
			t.Run(tool+", "+m.name, func(t *testing.T) { catchMistake(t, good, m) })
		}
	}
}

// catchMistake makes the mistake on a copy of a good rendering and wants
// its check to report it, and nothing about the original.
func catchMistake(t *testing.T, good *rendering, m mistake) {
	t.Helper()
	if p := m.check(good); len(p) > 0 {
		t.Fatalf("the unbroken rendering already fails: %s", strings.Join(p, "; "))
	}
	bad := good.clone()
	m.mutate(bad)
	if len(m.check(bad)) == 0 {
		t.Error("the check found nothing wrong")
	}
	if len(m.check(good)) > 0 {
		t.Error("breaking the copy changed the original")
	}
}
