package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	remote "k8s.io/cri-client/pkg"

	"github.com/graceline/graceline/cri"
)

// minGracePeriod is the kubelet's floor for the stop timeout after a preStop
// hook has used part of the grace period (minimumGracePeriodInSeconds).
const minGracePeriod = 2

// PodSpec describes a pod the way the kubelet would hand it to the runtime.
type PodSpec struct {
	Namespace, Name, UID string
	GracePeriod          int64
	Labels               map[string]string
	Containers           []ContainerSpec
	// PodNetwork gives the pod its own network namespace on the daemon's
	// CNI bridge; otherwise it uses the host's network.
	PodNetwork bool
}

// ContainerSpec is one container of a PodSpec.
type ContainerSpec struct {
	Name    string
	Image   string // BusyboxImage when empty
	Command []string
	PreStop *v1.LifecycleHandler
	// MemoryLimit is the container's memory limit in bytes, as the kubelet
	// passes resources.limits.memory; 0 is none.
	MemoryLimit int64
}

// Pod is a pod the driver created.
type Pod struct {
	Spec       PodSpec
	SandboxID  string
	Containers map[string]string // name -> ID
	config     *runtimeapi.PodSandboxConfig
}

// Driver creates and deletes pods through CRI exactly as the kubelet does:
// the same labels and annotations, and the same order of calls on deletion.
type Driver struct {
	rs internalapi.RuntimeService
	// logRoot holds the pods' container logs, as /var/log/pods does.
	logRoot string
	// Retry is how long a call keeps being retried while the runtime is
	// unavailable (for example while containerd restarts).
	Retry time.Duration
}

// NewDriver connects to the CRI endpoint.
func NewDriver(ctx context.Context, endpoint string) (*Driver, error) {
	rs, err := remote.NewRemoteRuntimeServiceBuilder().WithEndpoint(endpoint).WithConnectionTimeout(2 * time.Minute).WithTracerProvider(nil).Build(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect driver to %s: %w", endpoint, err)
	}
	logRoot, err := os.MkdirTemp("", "gl-pod-logs-")
	if err != nil {
		rs.Close(ctx)
		return nil, err
	}
	return &Driver{rs: rs, logRoot: logRoot, Retry: time.Minute}, nil
}

// Close closes the connection and removes the pods' logs.
func (d *Driver) Close() error {
	os.RemoveAll(d.logRoot)
	return d.rs.Close(context.Background())
}

// retry runs f until it succeeds, fails for a reason the kubelet would not
// retry, or d.Retry passes, as the kubelet's next sync would.
func (d *Driver) retry(ctx context.Context, what string, f func() error) error {
	deadline := time.Now().Add(d.Retry)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if !retriable(err) || time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// retriable says whether a runtime call that failed with err is worth
// another try: the runtime is not answering (yet), a restarted containerd's
// CRI plugin answers before it has recovered its state ("server is not
// initialized yet", which a call in flight across a restart can meet), or
// containerd lost its connection to a shim mid-call ("ttrpc: closed"),
// which CI saw once in a hundred pods stopped at once; the kubelet tries
// again at its next sync.
func retriable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	case codes.Unknown:
		msg := status.Convert(err).Message()
		return strings.Contains(msg, "ttrpc: closed") || strings.Contains(msg, "server is not initialized yet")
	}
	return false
}

// RunPod creates the sandbox and starts every container.
func (d *Driver) RunPod(ctx context.Context, spec PodSpec) (*Pod, error) {
	labels := map[string]string{}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	labels[cri.LabelPodName], labels[cri.LabelPodNamespace], labels[cri.LabelPodUID] = spec.Name, spec.Namespace, spec.UID
	nsOpts := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
	if spec.PodNetwork {
		nsOpts.Network = runtimeapi.NamespaceMode_POD
	}
	sbConfig := &runtimeapi.PodSandboxConfig{
		Metadata:    &runtimeapi.PodSandboxMetadata{Name: spec.Name, Namespace: spec.Namespace, Uid: spec.UID},
		Labels:      labels,
		Annotations: map[string]string{"kubernetes.io/config.source": "api", "kubernetes.io/config.seen": time.Now().Format(time.RFC3339Nano)},
		Linux:       &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: nsOpts}},
	}
	sbConfig.LogDirectory = filepath.Join(d.logRoot, spec.Namespace+"_"+spec.Name+"_"+spec.UID)
	pod := &Pod{Spec: spec, Containers: map[string]string{}, config: sbConfig}
	err := d.retry(ctx, "run pod sandbox "+spec.Name, func() (err error) {
		pod.SandboxID, err = d.rs.RunPodSandbox(ctx, sbConfig, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, c := range spec.Containers {
		id, err := d.startContainer(ctx, pod, c, nsOpts, 0)
		if err != nil {
			return pod, err
		}
		pod.Containers[c.Name] = id
	}
	return pod, nil
}

// startContainer creates and starts c in pod's sandbox; attempt counts the
// container's restarts, as the kubelet's annotation and log path do.
func (d *Driver) startContainer(ctx context.Context, pod *Pod, c ContainerSpec, nsOpts *runtimeapi.NamespaceOption, attempt int) (string, error) {
	spec := pod.Spec
	image := c.Image
	if image == "" {
		image = BusyboxImage
	}
	annotations := map[string]string{
		cri.AnnotationContainerHash:                        strconv.FormatUint(uint64(len(c.Name))*2654435761, 16),
		cri.AnnotationRestartCount:                         strconv.Itoa(attempt),
		cri.AnnotationTerminationGracePeriod:               strconv.FormatInt(spec.GracePeriod, 10),
		"io.kubernetes.container.terminationMessagePath":   "/dev/termination-log",
		"io.kubernetes.container.terminationMessagePolicy": "File",
	}
	if c.PreStop != nil {
		b, err := json.Marshal(c.PreStop)
		if err != nil {
			return "", fmt.Errorf("encode preStop of %s: %w", c.Name, err)
		}
		annotations[cri.AnnotationPreStopHandler] = string(b)
	}
	var resources *runtimeapi.LinuxContainerResources
	if c.MemoryLimit > 0 {
		resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: c.MemoryLimit}
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(attempt)},
		Image:    &runtimeapi.ImageSpec{Image: image},
		Command:  c.Command,
		Labels: map[string]string{
			cri.LabelPodName: spec.Name, cri.LabelPodNamespace: spec.Namespace, cri.LabelPodUID: spec.UID, cri.LabelContainerName: c.Name,
		},
		Annotations: annotations,
		LogPath:     c.Name + "/" + strconv.Itoa(attempt) + ".log",
		Linux:       &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: nsOpts}, Resources: resources},
	}
	var id string
	err := d.retry(ctx, "create container "+c.Name, func() (err error) {
		id, err = d.rs.CreateContainer(ctx, pod.SandboxID, cfg, pod.config)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, d.retry(ctx, "start container "+c.Name, func() error { return d.rs.StartContainer(ctx, id) })
}

// LogPath is where the runtime writes the named container's output.
func (p *Pod) LogPath(container string) string {
	return filepath.Join(p.config.LogDirectory, container, "0.log")
}

// DeletePod deletes a pod in the kubelet's order: for every container in
// parallel, its preStop exec (the grace period shrinks by the hook's
// duration, to no less than 2 s) and StopContainer with the remaining grace;
// then StopPodSandbox, RemoveContainer for each container, RemovePodSandbox.
func (d *Driver) DeletePod(ctx context.Context, pod *Pod) error {
	specs := map[string]ContainerSpec{}
	for _, c := range pod.Spec.Containers {
		specs[c.Name] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(pod.Containers))
	for name, id := range pod.Containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.killContainer(ctx, id, specs[name], pod.Spec.GracePeriod)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	if err := d.retry(ctx, "stop pod sandbox", func() error { return d.rs.StopPodSandbox(ctx, pod.SandboxID) }); err != nil {
		return err
	}
	for _, id := range pod.Containers {
		if err := d.retry(ctx, "remove container "+id, func() error { return d.rs.RemoveContainer(ctx, id) }); err != nil {
			return err
		}
	}
	return d.retry(ctx, "remove pod sandbox", func() error { return d.rs.RemovePodSandbox(ctx, pod.SandboxID) })
}

func (d *Driver) killContainer(ctx context.Context, id string, spec ContainerSpec, grace int64) error {
	if h := spec.PreStop; h != nil && h.Exec != nil {
		start := time.Now()
		// The kubelet logs a failed hook and goes on to stop the container.
		d.rs.ExecSync(ctx, id, h.Exec.Command, time.Duration(grace)*time.Second)
		grace -= int64(time.Since(start).Seconds())
		if grace < minGracePeriod {
			grace = minGracePeriod
		}
	}
	return d.retry(ctx, "stop container "+id, func() error { return d.rs.StopContainer(ctx, id, grace) })
}

// RestartContainer restarts the named container in the kubelet's order
// after a failed liveness probe: StopContainer with the pod's grace period,
// then a new container of the same name (the next attempt) in the same
// sandbox, started; the old one is removed last, as the kubelet's garbage
// collection does. It returns the new container's ID.
func (d *Driver) RestartContainer(ctx context.Context, pod *Pod, name string, attempt int) (string, error) {
	old, ok := pod.Containers[name]
	if !ok {
		return "", fmt.Errorf("restart container %s: no such container in pod %s", name, pod.Spec.Name)
	}
	var spec ContainerSpec
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			spec = c
		}
	}
	if err := d.retry(ctx, "stop container "+old, func() error { return d.rs.StopContainer(ctx, old, pod.Spec.GracePeriod) }); err != nil {
		return "", err
	}
	nsOpts := pod.config.GetLinux().GetSecurityContext().GetNamespaceOptions()
	id, err := d.startContainer(ctx, pod, spec, nsOpts, attempt)
	if err != nil {
		return "", err
	}
	pod.Containers[name] = id
	return id, d.retry(ctx, "remove container "+old, func() error { return d.rs.RemoveContainer(ctx, old) })
}

// RemoveAll stops and removes every sandbox the runtime has, for clean-up.
func (d *Driver) RemoveAll(ctx context.Context) {
	sbs, err := d.rs.ListPodSandbox(ctx, nil)
	if err != nil {
		return
	}
	for _, sb := range sbs {
		d.rs.StopPodSandbox(ctx, sb.Id)
		d.rs.RemovePodSandbox(ctx, sb.Id)
	}
}
