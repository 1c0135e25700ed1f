package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

// The workloads wait on one long sleep rather than polling, so that their
// timelines hold only what the termination did.
const (
	exitsOnTerm = "trap 'exit 0' TERM; sleep 3600 & wait"
	ignoresTerm = "trap '' TERM; sleep 3600 & wait"
)

type scenario struct {
	name       string
	about      string
	grace      int64
	script     string
	preStop    []string
	finalizers []string
	// during runs while the pod is being deleted.
	during func(ctx context.Context, cs kubernetes.Interface, g *graceline, uid string) error
}

// holdFinalizer is the finalizer of the finalizer scenario, which nothing
// but the demo removes.
const holdFinalizer = "demo.graceline.dev/hold"

var scenarios = []scenario{
	{name: "graceful", about: "exits on SIGTERM", grace: 5, script: exitsOnTerm},
	{name: "ignores-sigterm", about: "ignores SIGTERM; the kubelet's grace period is 3 s", grace: 3, script: ignoresTerm},
	{name: "prestop", about: "a preStop exec of `sleep 1`, grace 4 s", grace: 4, script: exitsOnTerm, preStop: []string{"sleep", "1"}},
	{name: "stuck", about: "ignores SIGTERM, and its runtime shim is stopped (SIGSTOP) during the deletion, then continued", grace: 2, script: ignoresTerm, during: hangShim},
	{name: "finalizer", about: "exits on SIGTERM, but a finalizer holds the object until the demo removes it", grace: 2, script: exitsOnTerm,
		finalizers: []string{holdFinalizer}, during: releaseFinalizer},
}

// setUp creates the demo namespace and a Service in front of every demo
// pod, so that timelines show the endpoints dropping each pod.
func setUp(ctx context.Context, cs kubernetes.Interface) error {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := cs.CoreV1().Services("demo").Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

func (sc scenario) run(ctx context.Context, cs kubernetes.Interface, g *graceline) error {
	step("pod demo/%s: %s", sc.name, sc.about)
	container := corev1.Container{
		Name: "web", Image: harness.BusyboxImage, ImagePullPolicy: corev1.PullNever,
		Command: []string{"/bin/sh", "-c", sc.script},
	}
	if sc.preStop != nil {
		container.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: sc.preStop}}}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: sc.name, Namespace: "demo", Labels: map[string]string{"app": "web"}, Finalizers: sc.finalizers},
		Spec:       corev1.PodSpec{TerminationGracePeriodSeconds: &sc.grace, Containers: []corev1.Container{container}},
	}
	created, err := cs.CoreV1().Pods("demo").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	uid := string(created.UID)
	if err := poll(ctx, time.Minute, "the pod to run", func() (bool, error) {
		p, err := cs.CoreV1().Pods("demo").Get(ctx, sc.name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, nil
	}); err != nil {
		return err
	}
	time.Sleep(time.Second) // let the shell set its trap
	fmt.Printf("    running (uid %s); deleting it through the API\n", uid)
	if err := cs.CoreV1().Pods("demo").Delete(ctx, sc.name, metav1.DeleteOptions{}); err != nil {
		return err
	}
	if sc.during != nil {
		if err := sc.during(ctx, cs, g, uid); err != nil {
			return err
		}
	}
	if err := poll(ctx, 3*time.Minute, "the pod to be gone from the API", func() (bool, error) {
		_, err := cs.CoreV1().Pods("demo").Get(ctx, sc.name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		return err
	}
	return poll(ctx, time.Minute, "the agent's termination summary", func() (bool, error) {
		return g.hasEvent(ctx, sc.name, uid, func(e *apiv1.Event) bool { return e.Kind == apiv1.KindTerminationSummary })
	})
}

// hangShim stops the pod's shim once the runtime sent SIGTERM, shows the
// agent's stuck report, and continues the shim.
func hangShim(ctx context.Context, _ kubernetes.Interface, g *graceline, uid string) error {
	var sandbox string
	if err := poll(ctx, time.Minute, "SIGTERM", func() (bool, error) {
		return g.hasEvent(ctx, "stuck", uid, func(e *apiv1.Event) bool {
			if e.Kind == apiv1.KindContainerCreated {
				sandbox = e.SandboxId
			}
			return e.Kind == apiv1.KindSignalGenerated && e.GetSignal().GetName() == "SIGTERM"
		})
	}); err != nil {
		return err
	}
	pid := harness.ShimPid(sandbox)
	if pid == 0 {
		return fmt.Errorf("no shim found for sandbox %s", sandbox)
	}
	fmt.Printf("    SIGSTOP to the pod's shim (pid %d): the runtime can no longer kill the container\n", pid)
	syscall.Kill(pid, syscall.SIGSTOP)
	defer syscall.Kill(pid, syscall.SIGCONT)
	if err := g.showStuck(ctx, "stuck", uid, "the agent's stuck report", ""); err != nil {
		return err
	}
	fmt.Printf("    SIGCONT to the shim: the deletion completes\n")
	return nil
}

// releaseFinalizer waits for the collector to report the pod held by its
// finalizer once the node is done, shows the report, and removes the
// finalizer.
func releaseFinalizer(ctx context.Context, cs kubernetes.Interface, g *graceline, uid string) error {
	if err := g.showStuck(ctx, "finalizer", uid, "the collector's stuck report at finalizers", apiv1.PhaseFinalizers); err != nil {
		return err
	}
	fmt.Printf("    removing the finalizer %s: the API deletes the object\n", holdFinalizer)
	patch := []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`)
	_, err := cs.CoreV1().Pods("demo").Patch(ctx, "finalizer", types.JSONPatchType, patch, metav1.PatchOptions{})
	return err
}

// showStuck waits for a stuck report about the pod (at phase, unless
// empty) and prints `kubectl graceline stuck`.
func (g *graceline) showStuck(ctx context.Context, name, uid, what, phase string) error {
	if err := poll(ctx, 2*time.Minute, what, func() (bool, error) {
		return g.hasEvent(ctx, name, uid, func(e *apiv1.Event) bool {
			return e.Kind == apiv1.KindStuck && (phase == "" || e.BlockingPhase == phase)
		})
	}); err != nil {
		return err
	}
	out, err := g.cli(ctx, "stuck", "-n", "demo")
	if err != nil {
		return err
	}
	fmt.Println("    $ kubectl graceline stuck -n demo")
	fmt.Println(indent(out))
	return nil
}

// hasEvent reports whether the collector holds an event of the pod that
// matches.
func (g *graceline) hasEvent(ctx context.Context, name, uid string, match func(*apiv1.Event) bool) (bool, error) {
	out, err := g.cli(ctx, "timeline", "demo/"+name, "--uid", uid, "-o", "json")
	if err != nil {
		return false, nil // not stored yet
	}
	found := false
	for _, line := range strings.Split(out, "\n") {
		var e apiv1.Event
		if apiv1.UnmarshalJSONLine([]byte(line), &e) == nil && match(&e) {
			found = true
		}
	}
	return found, nil
}

func poll(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
