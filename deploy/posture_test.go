package deploy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
)

// A check looks at one rendering and returns what is wrong with it.
type check struct {
	name string
	fn   func(r *rendering) []string
}

// postureChecks are the security properties every rendering must have.
var postureChecks = []check{
	{"no container is privileged or may gain privileges", checkUnprivileged},
	{"every container drops all capabilities", checkDropAll},
	{"only the agent adds capabilities, exactly the ones it needs", checkAddedCapabilities},
	{"every root filesystem is read-only", checkReadOnlyRoot},
	{"every container has cpu and memory requests and limits", checkResources},
	{"every long-running container has liveness and readiness probes", checkProbes},
	{"only the agent runs as root", checkUsers},
	{"every container has a seccomp profile, and only the agent's is Unconfined", checkSeccomp},
	{"only the agent shares a host namespace, and only the PID one", checkHostNamespaces},
	{"the agent tolerates every taint", checkTolerations},
	{"the agent mounts exactly the host paths it reads, read-only but for its spool", checkHostPaths},
	{"no API token reaches the agent, only one for the collector, which the collector reviews", checkAgentToken},
	{"the collector runs its cluster side, said on, with a ServiceAccount token in its container only", checkCollectorClusterSide},
	{"the collector reads its tokens from their Secret, read-only, mode 0440, in the pod's fsGroup", checkCollectorTokenFile},
	{"the agent's priority class exists and ranks below the system classes", checkPriority},
	{"the collector runs one replica and is recreated, never rolled", checkCollectorRollout},
	{"only agents reach the collector's ingest, and only the named namespaces its queries and metrics", checkCollectorIngress},
	{"no NetworkPolicy restricts the collector's egress, which its API watches need", checkCollectorEgress},
}

func TestSecurityPosture(t *testing.T) {
	eachRendering(t, func(t *testing.T, r *rendering) {
		if r.pod(agentName) == nil || r.pod(collectorName) == nil {
			t.Fatalf("want the %s DaemonSet and the %s Deployment", agentName, collectorName)
		}
		runChecks(t, r, postureChecks)
	})
}

// runChecks runs each check as a subtest named after it.
func runChecks(t *testing.T, r *rendering, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.fn(r) {
				t.Error(p)
			}
		})
	}
}

func checkUnprivileged(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range containers(p.spec) {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				problems = append(problems, fmt.Sprintf("%s/%s: no securityContext", p.owner, c.Name))
			case sc.Privileged != nil && *sc.Privileged:
				problems = append(problems, fmt.Sprintf("%s/%s: privileged", p.owner, c.Name))
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				problems = append(problems, fmt.Sprintf("%s/%s: allowPrivilegeEscalation is not false", p.owner, c.Name))
			}
		}
	}
	return problems
}

func checkDropAll(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range containers(p.spec) {
			if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil ||
				!slices.Equal(c.SecurityContext.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				problems = append(problems, fmt.Sprintf("%s/%s: capabilities do not drop exactly [ALL]", p.owner, c.Name))
			}
		}
	}
	return problems
}

// agentCapabilities is what the agent needs: eBPF (BPF, PERFMON), other
// processes' /proc entries (SYS_PTRACE), host files it does not own
// (DAC_READ_SEARCH), and on old kernels a higher memlock limit.
func agentCapabilities(v variant) []string {
	caps := []string{"BPF", "DAC_READ_SEARCH", "PERFMON", "SYS_PTRACE"}
	if v.memlock {
		caps = append(caps, "SYS_RESOURCE")
	}
	slices.Sort(caps)
	return caps
}

func checkAddedCapabilities(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range containers(p.spec) {
			var added []string
			if c.SecurityContext != nil && c.SecurityContext.Capabilities != nil {
				for _, a := range c.SecurityContext.Capabilities.Add {
					added = append(added, string(a))
				}
			}
			slices.Sort(added)
			var want []string
			if p.name == agentName && c.Name == "agent" {
				want = agentCapabilities(r.variant)
			}
			if !slices.Equal(added, want) {
				problems = append(problems, fmt.Sprintf("%s/%s: adds capabilities %v, want %v", p.owner, c.Name, added, want))
			}
		}
	}
	return problems
}

func checkReadOnlyRoot(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range containers(p.spec) {
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				problems = append(problems, fmt.Sprintf("%s/%s: root filesystem is writable", p.owner, c.Name))
			}
		}
	}
	return problems
}

func checkResources(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range containers(p.spec) {
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := c.Resources.Requests[res], c.Resources.Limits[res]
				switch {
				case req.IsZero() || lim.IsZero():
					problems = append(problems, fmt.Sprintf("%s/%s: %s request or limit missing", p.owner, c.Name, res))
				case req.Cmp(lim) > 0:
					problems = append(problems, fmt.Sprintf("%s/%s: %s request %s above limit %s", p.owner, c.Name, res, req.String(), lim.String()))
				}
			}
		}
	}
	return problems
}

func checkProbes(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range p.spec.Containers {
			for kind, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				if probe == nil || probe.HTTPGet == nil {
					problems = append(problems, fmt.Sprintf("%s/%s: no HTTP %s probe", p.owner, c.Name, kind))
				}
			}
			if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != "/healthz" {
				problems = append(problems, fmt.Sprintf("%s/%s: liveness probe on %s, want /healthz", p.owner, c.Name, c.LivenessProbe.HTTPGet.Path))
			}
			if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				problems = append(problems, fmt.Sprintf("%s/%s: readiness probe on %s, want /readyz", p.owner, c.Name, c.ReadinessProbe.HTTPGet.Path))
			}
		}
	}
	return problems
}

func checkUsers(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range containers(p.spec) {
			uid := runAsUser(p.spec, c)
			root := uid == nil || *uid == 0
			switch {
			case p.name == agentName && c.Name == "agent":
				if uid == nil || *uid != 0 {
					problems = append(problems, fmt.Sprintf("%s/%s: the agent must say it runs as uid 0", p.owner, c.Name))
				}
			case root || !runAsNonRoot(p.spec, c):
				problems = append(problems, fmt.Sprintf("%s/%s: may run as root (runAsUser %v, runAsNonRoot %v)", p.owner, c.Name, uid, runAsNonRoot(p.spec, c)))
			}
		}
	}
	return problems
}

func checkSeccomp(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		for _, c := range containers(p.spec) {
			want := corev1.SeccompProfileTypeRuntimeDefault
			if p.name == agentName && c.Name == "agent" {
				want = corev1.SeccompProfileTypeUnconfined
			}
			if s := seccomp(p.spec, c); s == nil || s.Type != want {
				problems = append(problems, fmt.Sprintf("%s/%s: seccomp profile %v, want %s", p.owner, c.Name, s, want))
			}
		}
	}
	return problems
}

func checkHostNamespaces(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		if p.spec.HostPID != (p.name == agentName) {
			problems = append(problems, fmt.Sprintf("%s: hostPID %v", p.owner, p.spec.HostPID))
		}
		if p.spec.HostNetwork || p.spec.HostIPC {
			problems = append(problems, fmt.Sprintf("%s: hostNetwork %v, hostIPC %v", p.owner, p.spec.HostNetwork, p.spec.HostIPC))
		}
	}
	return problems
}

func checkTolerations(r *rendering) []string {
	spec := r.pod(agentName)
	want := []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	if !slices.EqualFunc(spec.Tolerations, want, func(a, b corev1.Toleration) bool { return a == b }) {
		return []string{fmt.Sprintf("tolerations %+v, want one with operator Exists and nothing else", spec.Tolerations)}
	}
	return nil
}

// A hostMount is a host path as the agent sees it.
type hostMount struct {
	hostPath, mountPath string
	readOnly            bool
	propagation         corev1.MountPropagationMode
}

// agentHostMounts is every host path the agent needs, and how. There is no
// host /proc (hostPID gives the container's /proc the host's processes)
// and no /sys/kernel/btf (the container's own sysfs shows it).
// The CNI bin directories are mounted read-only at their own paths, one
// volume each, without propagation.
func agentHostMounts(v variant) map[string]hostMount {
	m := map[string]hostMount{
		"runtime": {v.runtimeDir, v.runtimeDir, true, corev1.MountPropagationHostToContainer},
		"netns":   {"/var/run/netns", "/var/run/netns", true, corev1.MountPropagationHostToContainer},
		"cgroup":  {"/sys/fs/cgroup", "/sys/fs/cgroup", true, ""},
		"kubelet": {"/var/lib/kubelet", "/var/lib/kubelet", true, corev1.MountPropagationHostToContainer},
		"spool":   {"/var/lib/graceline/spool", "/var/lib/graceline/spool", false, ""},
	}
	for i, dir := range v.cniBinDirs() {
		m[fmt.Sprintf("cni-bin-%d", i)] = hostMount{dir, dir, true, ""}
	}
	return m
}

func checkHostPaths(r *rendering) (problems []string) {
	for _, p := range r.pods() {
		got := map[string]hostMount{}
		for _, vol := range p.spec.Volumes {
			if vol.HostPath == nil {
				continue
			}
			m := hostMount{hostPath: vol.HostPath.Path}
			n := 0
			for _, c := range containers(p.spec) {
				for _, vm := range c.VolumeMounts {
					if vm.Name == vol.Name {
						n++
						m.mountPath, m.readOnly = vm.MountPath, vm.ReadOnly
						if vm.MountPropagation != nil {
							m.propagation = *vm.MountPropagation
						}
					}
				}
			}
			if n != 1 {
				problems = append(problems, fmt.Sprintf("%s: host path %s mounted %d times, want once", p.owner, vol.HostPath.Path, n))
			}
			got[vol.Name] = m
		}
		want := map[string]hostMount{}
		if p.name == agentName {
			want = agentHostMounts(r.variant)
		}
		for name, w := range want {
			if g, ok := got[name]; !ok || g != w {
				problems = append(problems, fmt.Sprintf("%s: volume %s is %+v, want %+v", p.owner, name, got[name], w))
			}
		}
		for name, g := range got {
			if _, ok := want[name]; !ok {
				problems = append(problems, fmt.Sprintf("%s: unexpected host path %s (%+v)", p.owner, name, g))
			}
		}
	}
	return problems
}

func checkAgentToken(r *rendering) (problems []string) {
	spec := r.pod(agentName)
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		problems = append(problems, "the agent's pod does not set automountServiceAccountToken: false")
	}
	sa, _ := r.find("ServiceAccount", spec.ServiceAccountName).(*corev1.ServiceAccount)
	switch {
	case spec.ServiceAccountName != agentName:
		problems = append(problems, fmt.Sprintf("the agent runs as ServiceAccount %q, want %s", spec.ServiceAccountName, agentName))
	case sa == nil:
		problems = append(problems, "the agent's ServiceAccount is not rendered")
	case sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken:
		problems = append(problems, "the agent's ServiceAccount does not set automountServiceAccountToken: false")
	}
	return append(problems, checkAgentCollectorToken(r)...)
}

// agentAudience is the audience of the agent's token: the collector's, so
// that the API server refuses it.
const agentAudience = "graceline-collector"

// checkAgentCollectorToken wants the agent's one ServiceAccount token to be
// for the collector and where --token-file reads it, exactly when the
// collector reviews agents' tokens (--agent-service-account, naming the
// agent's ServiceAccount in the pod's own namespace); otherwise the agent
// has the static token of a Secret.
func checkAgentCollectorToken(r *rendering) (problems []string) {
	spec, coll := r.pod(agentName), r.pod(collectorName)
	account, reviews := flagValue(coll.Containers[0].Args, "agent-service-account")
	if reviews {
		if want := "$(POD_NAMESPACE)/" + agentName; account != want {
			problems = append(problems, fmt.Sprintf("the collector reviews tokens of %q, want %s", account, want))
		}
		if !slices.ContainsFunc(coll.Containers[0].Env, func(e corev1.EnvVar) bool {
			return e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
		}) {
			problems = append(problems, "the collector's POD_NAMESPACE is not its pod's namespace")
		}
	}
	path, _ := flagValue(spec.Containers[0].Args, "token-file")
	var volume *corev1.Volume
	for _, m := range spec.Containers[0].VolumeMounts {
		if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			for i := range spec.Volumes {
				if spec.Volumes[i].Name == m.Name {
					volume = &spec.Volumes[i]
				}
			}
			if !m.ReadOnly {
				problems = append(problems, fmt.Sprintf("the agent's token volume %s is mounted writable", m.Name))
			}
		}
	}
	if volume == nil {
		return append(problems, fmt.Sprintf("the agent's --token-file=%s is in no volume it mounts", path))
	}
	var projected []corev1.ServiceAccountTokenProjection
	for _, v := range spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if t := src.ServiceAccountToken; t != nil {
				projected = append(projected, *t)
				if t.Audience != agentAudience {
					problems = append(problems, fmt.Sprintf("volume %s projects a token for audience %q, want %s: the API server would take it", v.Name, t.Audience, agentAudience))
				}
			}
		}
	}
	switch {
	case reviews && (volume.Projected == nil || len(projected) != 1 || filepath.Base(path) != projected[0].Path):
		problems = append(problems, fmt.Sprintf("the collector reviews agents' tokens, but the agent's --token-file=%s is not its one projected ServiceAccount token", path))
	case !reviews && len(projected) > 0:
		problems = append(problems, "the agent's pod projects a ServiceAccount token that the collector does not review")
	case !reviews && volume.Secret == nil:
		problems = append(problems, fmt.Sprintf("the agent's --token-file=%s is neither a reviewed ServiceAccount token nor a Secret's", path))
	}
	return problems
}

func checkCollectorClusterSide(r *rendering) (problems []string) {
	spec := r.pod(collectorName)
	if mode, _ := flagValue(spec.Containers[0].Args, "kubernetes"); mode != "on" {
		problems = append(problems, fmt.Sprintf("the collector passes --kubernetes=%q, want on: auto would turn the cluster side off without a word", mode))
	}
	// The pod's setting wins over its ServiceAccount's. Automounting would
	// give the token to every container of the pod, not to the collector's
	// alone.
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		problems = append(problems, "the collector's pod does not set automountServiceAccountToken: false")
	}
	problems = append(problems, checkTokenMounts(spec)...)
	if spec.ServiceAccountName != collectorName || r.find("ServiceAccount", collectorName) == nil {
		problems = append(problems, fmt.Sprintf("the collector runs as ServiceAccount %q, want a rendered %s (the one its role is bound to)", spec.ServiceAccountName, collectorName))
	}
	return problems
}

// tokenPath is where client-go's in-cluster config reads the token.
const tokenPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// checkTokenMounts wants the collector container, and no other, to mount a
// projected ServiceAccount token (with the cluster's CA and the namespace)
// read-only where client-go looks.
func checkTokenMounts(spec *corev1.PodSpec) (problems []string) {
	tokenVolumes := map[string]bool{}
	for _, v := range spec.Volumes {
		if v.Projected == nil {
			continue
		}
		var token, ca, ns bool
		for _, src := range v.Projected.Sources {
			token = token || src.ServiceAccountToken != nil && src.ServiceAccountToken.Path == "token"
			ca = ca || src.ConfigMap != nil && src.ConfigMap.Name == "kube-root-ca.crt"
			ns = ns || src.DownwardAPI != nil
		}
		if token {
			tokenVolumes[v.Name] = true
			if !ca || !ns {
				problems = append(problems, fmt.Sprintf("volume %s projects a token without the cluster's CA or the namespace", v.Name))
			}
		}
	}
	for _, c := range containers(spec) {
		mounted := false
		for _, m := range c.VolumeMounts {
			if tokenVolumes[m.Name] {
				mounted = true
				if m.MountPath != tokenPath || !m.ReadOnly {
					problems = append(problems, fmt.Sprintf("container %s mounts the token at %s (read-only %v), want %s read-only", c.Name, m.MountPath, m.ReadOnly, tokenPath))
				}
			}
		}
		if want := c.Name == "collector"; mounted != want {
			problems = append(problems, fmt.Sprintf("container %s mounts an API token: %v, want %v", c.Name, mounted, want))
		}
	}
	return problems
}

// collectorTokensSecret is the Secret the README has the collector's
// tokens put in, under the key "tokens".
const collectorTokensSecret = "graceline-collector-tokens"

// checkCollectorTokenFile follows the collector's --token-file to the
// Secret it is read from. The kubelet writes a Secret's files as root and,
// with fsGroup, gives them the pod's group, which is one of the
// collector's groups: mode 0440 lets the collector read the file, and
// nobody else. The collector refuses a file that others may read or that
// its group may write.
func checkCollectorTokenFile(r *rendering) (problems []string) {
	spec := r.pod(collectorName)
	c := spec.Containers[0]
	if sc := spec.SecurityContext; sc == nil || sc.FSGroup == nil {
		problems = append(problems, "the collector's pod sets no fsGroup, so the token file's group is not the collector's")
	}
	path, ok := flagValue(c.Args, "token-file")
	if !ok {
		return append(problems, "the collector has no --token-file")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		name, ok := strings.CutPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		secret := volumes[m.Name].Secret
		if secret == nil || secret.SecretName != collectorTokensSecret {
			return append(problems, fmt.Sprintf("--token-file=%s: volume %s is not Secret %s", path, m.Name, collectorTokensSecret))
		}
		if !m.ReadOnly {
			problems = append(problems, fmt.Sprintf("volume %s, the token file's, is mounted writable", m.Name))
		}
		// Without items, every key is a file of its own name.
		mode, found := secret.DefaultMode, len(secret.Items) == 0 && name == "tokens"
		for _, item := range secret.Items {
			if item.Key == "tokens" && item.Path == name {
				found = true
				if item.Mode != nil {
					mode = item.Mode
				}
			}
		}
		if !found {
			return append(problems, fmt.Sprintf("--token-file=%s: Secret %s's key tokens is not projected to %s", path, collectorTokensSecret, name))
		}
		if mode == nil || *mode != 0o440 {
			got := fmt.Sprintf("%#o (the default)", corev1.SecretVolumeSourceDefaultMode)
			if mode != nil {
				got = fmt.Sprintf("%#o", *mode)
			}
			problems = append(problems, fmt.Sprintf("the token file's mode is %s, want 0440: read by its group, no one else", got))
		}
		return problems
	}
	return append(problems, fmt.Sprintf("--token-file=%s is in no volume the collector mounts", path))
}

func checkPriority(r *rendering) []string {
	spec := r.pod(agentName)
	pc, _ := r.find("PriorityClass", spec.PriorityClassName).(*schedulingv1.PriorityClass)
	switch {
	case pc == nil:
		return []string{fmt.Sprintf("priority class %q is not rendered", spec.PriorityClassName)}
	case pc.Value <= 0 || pc.Value > 1_000_000_000:
		return []string{fmt.Sprintf("priority %d: want above 0 and at most 1,000,000,000 (below the system classes)", pc.Value)}
	case pc.GlobalDefault:
		return []string{"the priority class is the cluster's default"}
	}
	return nil
}

func checkCollectorRollout(r *rendering) []string {
	d, _ := r.find("Deployment", collectorName).(*appsv1.Deployment)
	if d == nil {
		return []string{"no collector Deployment"}
	}
	var problems []string
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		problems = append(problems, fmt.Sprintf("replicas %v, want 1 (SQLite has one writer)", d.Spec.Replicas))
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		problems = append(problems, fmt.Sprintf("strategy %q, want Recreate", d.Spec.Strategy.Type))
	}
	return problems
}
