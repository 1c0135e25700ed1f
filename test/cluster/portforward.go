package cluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// PortForwardService forwards a local port to a Service's port, as
// `kubectl port-forward svc/NAME PORT` does: it picks a running pod the
// Service selects, resolves the port's target in that pod, and streams
// through the API server and the pod's kubelet. It returns the local
// address, the pod it reaches, and a function that ends the forward; the
// forward's errors go to errs.
func (c *Cluster) PortForwardService(ctx context.Context, namespace, service, portName string, errs io.Writer) (string, string, func(), error) {
	cs, err := c.Client()
	if err != nil {
		return "", "", nil, err
	}
	svc, err := cs.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		return "", "", nil, fmt.Errorf("get service %s: %w", service, err)
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return "", "", nil, fmt.Errorf("list the pods of service %s: %w", service, err)
	}
	var pod *corev1.Pod
	for i := range pods.Items {
		if pods.Items[i].Status.Phase == corev1.PodRunning && pods.Items[i].DeletionTimestamp == nil {
			pod = &pods.Items[i]
		}
	}
	if pod == nil {
		return "", "", nil, fmt.Errorf("service %s selects no running pod", service)
	}
	port, err := targetPort(svc, pod, portName)
	if err != nil {
		return "", "", nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return "", "", nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return "", "", nil, fmt.Errorf("port-forward transport: %w", err)
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod.Name).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, errs)
	if err != nil {
		return "", "", nil, fmt.Errorf("port-forward to %s: %w", pod.Name, err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	end := func() {
		close(stop)
		<-done
	}
	select {
	case <-ready:
	case err := <-done:
		return "", "", nil, fmt.Errorf("port-forward to %s:%d: %w", pod.Name, port, err)
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		end()
		return "", "", nil, fmt.Errorf("port-forward's local port: %v %v", ports, err)
	}
	return "127.0.0.1:" + strconv.Itoa(int(ports[0].Local)), fmt.Sprintf("%s:%d", pod.Name, port), end, nil
}

// targetPort is the container port a Service's named port sends to in pod.
func targetPort(svc *corev1.Service, pod *corev1.Pod, portName string) (int32, error) {
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
