package deploy

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// wiringChecks find references that point nowhere: what would leave a pod
// stuck in ContainerCreating or a Service without endpoints.
var wiringChecks = []check{
	{"every volume mount names a volume of its pod, and every volume is mounted", checkVolumes},
	{"every $(VAR) in arguments is an environment variable of its container", checkEnvRefs},
	{"every path a flag names lies in a mounted volume", checkPathsMounted},
	{"every --cni-bin-dir is the host's directory, mounted read-only at its own path, with no hostPath type check", checkCNIBinDirs},
	{"every listen address and probe uses a port the container declares", checkPorts},
	{"the collector Service selects the collector and targets its ports", checkService},
	{"the agent dials the collector Service on its gRPC port", checkCollectorAddress},
	{"every NetworkPolicy selects the collector alone, names its ports and opens each Service port to someone", checkNetworkPolicyWiring},
	{"every selector matches its pod template", checkSelectors},
	{"every ServiceAccount, priority class and claim a pod names is rendered", checkReferences},
	{"every namespaced object is in the graceline namespace", checkNamespaces},
}

func TestWiring(t *testing.T) {
	eachRendering(t, func(t *testing.T, r *rendering) { runChecks(t, r, wiringChecks) })
}

func checkVolumes(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		used := map[string]bool{}
		for _, c := range containers(p.spec) {
			for _, vm := range c.VolumeMounts {
				used[vm.Name] = true
			}
		}
		declared := map[string]bool{}
		for _, v := range p.spec.Volumes {
			declared[v.Name] = true
			if !used[v.Name] {
				problems = append(problems, fmt.Sprintf("%s: volume %s is never mounted", p.owner, v.Name))
			}
		}
		for name := range used {
			if !declared[name] {
				problems = append(problems, fmt.Sprintf("%s: mounts volume %s, which it does not declare", p.owner, name))
			}
		}
	}
	return problems
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkEnvRefs(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range containers(p.spec) {
			env := map[string]bool{}
			for _, e := range c.Env {
				env[e.Name] = true
			}
			for _, a := range append(append([]string{}, c.Command...), c.Args...) {
				for _, m := range envRef.FindAllStringSubmatch(a, -1) {
					if !env[m[1]] {
						problems = append(problems, fmt.Sprintf("%s/%s: %q uses $(%s), which is not set", p.owner, c.Name, a, m[1]))
					}
				}
			}
		}
	}
	return problems
}

// pathsIn returns the absolute paths a container's command and arguments
// name: flag values like --token-file=/x or --cri-endpoint=unix:///x, each
// item of a list like --cni-bin-dir=/x,/y, and bare arguments like /x.
func pathsIn(c corev1.Container) []string {
	var out []string
	words := c.Args
	if len(c.Command) > 1 {
		words = append(append([]string{}, c.Command[1:]...), c.Args...)
	}
	for _, w := range words {
		items := []string{w}
		if _, v, ok := strings.Cut(w, "="); ok && strings.HasPrefix(w, "--") {
			items = strings.Split(v, ",")
		}
		for _, item := range items {
			item = strings.TrimPrefix(item, "unix://")
			if strings.HasPrefix(item, "/") {
				out = append(out, item)
			}
		}
	}
	return out
}

func checkPathsMounted(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range containers(p.spec) {
			for _, path := range pathsIn(c) {
				mounted := false
				for _, vm := range c.VolumeMounts {
					if path == vm.MountPath || strings.HasPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/") {
						mounted = true
					}
				}
				if !mounted {
					problems = append(problems, fmt.Sprintf("%s/%s: %s is in no volume the container mounts", p.owner, c.Name, path))
				}
			}
		}
	}
	return problems
}

// flagValue returns the value of --name=value among args.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// flagList returns the items of every --name=a,b among args, in order, as
// a repeatable list flag collects them.
func flagList(args []string, name string) []string {
	var out []string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			for _, item := range strings.Split(v, ",") {
				if item != "" {
					out = append(out, item)
				}
			}
		}
	}
	return out
}

// checkCNIBinDirs holds the agent's --cni-bin-dir to its mounts. The agent
// knows a CNI plugin by the device and inode of the directory it was
// exec'd from, and resolves plugins' symlinks itself, so each directory
// must be the host's, at the same path. A node seldom has all of them: a
// hostPath of type Directory would keep the agent from starting where one
// is missing, and DirectoryOrCreate would have the kubelet create it.
func checkCNIBinDirs(r *rendering) (problems []string) {
	spec := r.pod(agentName)
	c := spec.Containers[0]
	dirs := flagList(c.Args, "cni-bin-dir")
	if !slices.Equal(dirs, r.variant.cniBinDirs()) {
		problems = append(problems, fmt.Sprintf("--cni-bin-dir lists %v, want %v", dirs, r.variant.cniBinDirs()))
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, dir := range dirs {
		var mounts []corev1.VolumeMount
		for _, vm := range c.VolumeMounts {
			if vm.MountPath == dir {
				mounts = append(mounts, vm)
			}
		}
		if len(mounts) != 1 {
			problems = append(problems, fmt.Sprintf("CNI bin dir %s is mounted %d times at its own path, want once", dir, len(mounts)))
			continue
		}
		vm := mounts[0]
		hp := volumes[vm.Name].HostPath
		switch {
		case hp == nil:
			problems = append(problems, fmt.Sprintf("CNI bin dir %s: volume %s is not a hostPath", dir, vm.Name))
		case hp.Path != dir:
			problems = append(problems, fmt.Sprintf("CNI bin dir %s: mounts the host's %s", dir, hp.Path))
		case hp.Type != nil && *hp.Type != corev1.HostPathUnset:
			problems = append(problems, fmt.Sprintf("CNI bin dir %s: hostPath type %q, want none", dir, *hp.Type))
		}
		if !vm.ReadOnly {
			problems = append(problems, fmt.Sprintf("CNI bin dir %s is mounted writable", dir))
		}
	}
	return problems
}

// listenFlags maps each address flag to the named port it must match.
var listenFlags = map[string]string{"metrics-address": "metrics", "grpc-address": "grpc", "http-address": "http"}

func checkPorts(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range p.spec.Containers {
			ports := map[string]int32{}
			for _, port := range c.Ports {
				ports[port.Name] = port.ContainerPort
			}
			for flag, name := range listenFlags {
				addr, ok := flagValue(c.Args, flag)
				if !ok {
					continue
				}
				_, port, err := net.SplitHostPort(addr)
				if n, _ := strconv.Atoi(port); err != nil || ports[name] == 0 || int32(n) != ports[name] {
					problems = append(problems, fmt.Sprintf("%s/%s: --%s=%s but port %s is %d", p.owner, c.Name, flag, addr, name, ports[name]))
				}
			}
			for _, probe := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
				if probe == nil || probe.HTTPGet == nil {
					continue
				}
				if name := probe.HTTPGet.Port.String(); ports[name] == 0 {
					problems = append(problems, fmt.Sprintf("%s/%s: probe on port %q, which the container does not declare", p.owner, c.Name, name))
				}
			}
		}
	}
	return problems
}

// collectorService returns the collector's Service and pod template.
func collectorService(r *rendering) (*corev1.Service, *corev1.PodTemplateSpec, error) {
	svc, _ := r.find("Service", collectorName).(*corev1.Service)
	d, _ := r.find("Deployment", collectorName).(*appsv1.Deployment)
	if svc == nil || d == nil {
		return nil, nil, fmt.Errorf("want a Service and a Deployment named %s", collectorName)
	}
	return svc, &d.Spec.Template, nil
}

func checkService(r *rendering) (problems []string) {
	svc, tmpl, err := collectorService(r)
	if err != nil {
		return []string{err.Error()}
	}
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(tmpl.Labels)) {
		problems = append(problems, fmt.Sprintf("selector %v does not select the collector's pods %v", svc.Spec.Selector, tmpl.Labels))
	}
	declared := map[string]int32{}
	for _, port := range tmpl.Spec.Containers[0].Ports {
		declared[port.Name] = port.ContainerPort
	}
	for _, port := range svc.Spec.Ports {
		if declared[port.TargetPort.String()] == 0 {
			problems = append(problems, fmt.Sprintf("port %s targets %q, which the collector does not declare", port.Name, port.TargetPort.String()))
		}
	}
	for _, pod := range r.pods() {
		if pod.name != collectorName && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.meta.Labels)) {
			problems = append(problems, fmt.Sprintf("the collector Service also selects %s", pod.owner))
		}
	}
	return problems
}

func checkCollectorAddress(r *rendering) []string {
	svc, _, err := collectorService(r)
	if err != nil {
		return []string{err.Error()}
	}
	addr, ok := flagValue(r.pod(agentName).Containers[0].Args, "collector")
	if !ok {
		return []string{"the agent has no --collector"}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{fmt.Sprintf("--collector=%s: %v", addr, err)}
	}
	// The short name resolves in the agent's own namespace, which is the
	// collector's.
	if host != svc.Name && host != svc.Name+"."+svc.Namespace+".svc" {
		return []string{fmt.Sprintf("--collector=%s does not name Service %s", addr, svc.Name)}
	}
	for _, p := range svc.Spec.Ports {
		if p.Name == "grpc" && strconv.Itoa(int(p.Port)) == port {
			return nil
		}
	}
	return []string{fmt.Sprintf("--collector=%s is not the Service's grpc port", addr)}
}

func checkSelectors(r *rendering) (problems []string) {
	for _, o := range r.objects {
		var sel *metav1.LabelSelector
		var tmpl map[string]string
		switch w := o.obj.(type) {
		case *appsv1.DaemonSet:
			sel, tmpl = w.Spec.Selector, w.Spec.Template.Labels
		case *appsv1.Deployment:
			sel, tmpl = w.Spec.Selector, w.Spec.Template.Labels
		default:
			continue
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil || s.Empty() || !s.Matches(labels.Set(tmpl)) {
			problems = append(problems, fmt.Sprintf("%s: selector %v does not match template labels %v", o.key(), sel, tmpl))
		}
	}
	return problems
}

func checkReferences(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		if r.find("ServiceAccount", p.spec.ServiceAccountName) == nil {
			problems = append(problems, fmt.Sprintf("%s: ServiceAccount %q is not rendered", p.owner, p.spec.ServiceAccountName))
		}
		if n := p.spec.PriorityClassName; n != "" && r.find("PriorityClass", n) == nil {
			problems = append(problems, fmt.Sprintf("%s: PriorityClass %q is not rendered", p.owner, n))
		}
		for _, v := range p.spec.Volumes {
			if v.PersistentVolumeClaim != nil && r.find("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName) == nil {
				problems = append(problems, fmt.Sprintf("%s: claim %q is not rendered", p.owner, v.PersistentVolumeClaim.ClaimName))
			}
		}
	}
	return problems
}

var clusterScoped = map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "PriorityClass": true, "APIService": true}

// elsewhere are the namespaced objects outside graceline's namespace, by
// kind/name: the binding that lets the collector read the front proxy's
// CA must live beside that Role, in kube-system.
var elsewhere = map[string]string{"RoleBinding/graceline-collector-auth-reader": "kube-system"}

func checkNamespaces(r *rendering) (problems []string) {
	for _, o := range r.objects {
		ns := o.obj.GetNamespace()
		switch {
		case clusterScoped[o.kind] && ns != "":
			problems = append(problems, fmt.Sprintf("%s: cluster-scoped but in namespace %q", o.key(), ns))
		case !clusterScoped[o.kind] && elsewhere[o.kind+"/"+o.name] != "":
			if want := elsewhere[o.kind+"/"+o.name]; ns != want {
				problems = append(problems, fmt.Sprintf("%s: namespace %q, want %q", o.key(), ns, want))
			}
		case !clusterScoped[o.kind] && ns != namespace:
			problems = append(problems, fmt.Sprintf("%s: namespace %q, want %q", o.key(), ns, namespace))
		}
	}
	return problems
}
