// Package portforward forwards a local port to a Service's port the way
// `kubectl port-forward svc/NAME PORT` does: it picks a running pod the
// Service selects, resolves the port's target in that pod, and streams
// through the API server and the pod's kubelet. It needs no kubectl binary,
// only a rest.Config, so that `kubectl graceline` and the tests share it.
package portforward

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forward is a running port-forward.
type Forward struct {
	// Address is the local address that forwards, 127.0.0.1:PORT.
	Address string
	// Target is the pod and port it reaches, POD:PORT.
	Target string

	stop chan struct{}
	done chan error
}

// Close ends the forward and waits until it has.
func (f *Forward) Close() {
	close(f.stop)
	<-f.done
}

// Done is closed with the forward's error when it ends on its own, as when
// the pod goes away.
func (f *Forward) Done() <-chan error { return f.done }

// Service forwards localPort on 127.0.0.1 (0 picks a free one) to the
// Service's port named portName. The forward's errors, which it survives,
// go to errs.
func Service(ctx context.Context, cfg *rest.Config, namespace, service, portName string, localPort int, errs io.Writer) (*Forward, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("make client: %w", err)
	}
	svc, err := cs.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get service %s/%s: %w", namespace, service, err)
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return nil, fmt.Errorf("list the pods of service %s/%s: %w", namespace, service, err)
	}
	var pod *corev1.Pod
	for i := range pods.Items {
		if pods.Items[i].Status.Phase == corev1.PodRunning && pods.Items[i].DeletionTimestamp == nil {
			pod = &pods.Items[i]
		}
	}
	if pod == nil {
		return nil, fmt.Errorf("service %s/%s selects no running pod", namespace, service)
	}
	port, err := TargetPort(svc, pod, portName)
	if err != nil {
		return nil, err
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("make port-forward transport: %w", err)
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod.Name).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	f := &Forward{Target: fmt.Sprintf("%s:%d", pod.Name, port), stop: make(chan struct{}), done: make(chan error, 1)}
	ready := make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("%d:%d", localPort, port)}, f.stop, ready, io.Discard, errs)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", f.Target, err)
	}
	go func() {
		f.done <- fw.ForwardPorts()
		close(f.done)
	}()
	select {
	case <-ready:
	case err := <-f.done:
		return nil, fmt.Errorf("port-forward to %s: %w", f.Target, err)
	case <-ctx.Done():
		f.Close()
		return nil, fmt.Errorf("port-forward to %s: %w", f.Target, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		f.Close()
		return nil, fmt.Errorf("read port-forward's local port: %v %v", ports, err)
	}
	f.Address = "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
	return f, nil
}

// TargetPort is the container port a Service's named port sends to in pod.
func TargetPort(svc *corev1.Service, pod *corev1.Pod, portName string) (int32, error) {
	for _, sp := range svc.Spec.Ports {
		if sp.Name != portName {
			continue
		}
		if sp.TargetPort.StrVal == "" {
			return sp.TargetPort.IntVal, nil
		}
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal {
					return cp.ContainerPort, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("service %s has no port %s that pod %s serves", svc.Name, portName, pod.Name)
}
