package deploy

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Names of graceline's two workloads.
const (
	agentName     = "graceline-agent"
	collectorName = "graceline-collector"
)

// A pod is the pod template of a workload.
type pod struct {
	owner string // e.g. "DaemonSet graceline-agent"
	name  string
	spec  *corev1.PodSpec
	meta  *metav1.ObjectMeta
}

// pods returns the pod templates of every workload.
func (r *rendering) pods() []pod {
	var out []pod
	for _, o := range r.objects {
		switch w := o.obj.(type) {
		case *appsv1.DaemonSet:
			out = append(out, pod{owner: "DaemonSet " + w.Name, name: w.Name, spec: &w.Spec.Template.Spec, meta: &w.Spec.Template.ObjectMeta})
		case *appsv1.Deployment:
			out = append(out, pod{owner: "Deployment " + w.Name, name: w.Name, spec: &w.Spec.Template.Spec, meta: &w.Spec.Template.ObjectMeta})
		}
	}
	return out
}

// pod returns the pod template of the named workload, or nil.
func (r *rendering) pod(name string) *corev1.PodSpec {
	for _, p := range r.pods() {
		if p.name == name {
			return p.spec
		}
	}
	return nil
}

// find returns the object of that kind and name, or nil.
func (r *rendering) find(kind, name string) metav1.Object {
	for _, o := range r.objects {
		if o.kind == kind && o.name == name {
			return o.obj
		}
	}
	return nil
}

// ofKind returns every object of that kind.
func (r *rendering) ofKind(kind string) []metav1.Object {
	var out []metav1.Object
	for _, o := range r.objects {
		if o.kind == kind {
			out = append(out, o.obj)
		}
	}
	return out
}

// clone deep-copies a rendering, for tests that break it on purpose.
func (r *rendering) clone() *rendering {
	c := &rendering{tool: r.tool, variant: r.variant}
	for _, o := range r.objects {
		o.obj = o.obj.(runtime.Object).DeepCopyObject().(metav1.Object)
		c.objects = append(c.objects, o)
	}
	return c
}

// containers returns a pod's init containers and containers.
func containers(spec *corev1.PodSpec) []corev1.Container {
	return append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
}

// Effective security settings: a container's own, else its pod's.

func runAsUser(spec *corev1.PodSpec, c corev1.Container) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return c.SecurityContext.RunAsUser
	}
	if spec.SecurityContext != nil {
		return spec.SecurityContext.RunAsUser
	}
	return nil
}

func runAsNonRoot(spec *corev1.PodSpec, c corev1.Container) bool {
	if c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil {
		return *c.SecurityContext.RunAsNonRoot
	}
	return spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
}

func seccomp(spec *corev1.PodSpec, c corev1.Container) *corev1.SeccompProfile {
	if c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
		return c.SecurityContext.SeccompProfile
	}
	if spec.SecurityContext != nil {
		return spec.SecurityContext.SeccompProfile
	}
	return nil
}
