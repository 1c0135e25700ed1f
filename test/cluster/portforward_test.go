package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// portForwardService forwards a local port to a Service's port, as
// `kubectl port-forward svc/NAME PORT` does: it picks a running pod the
// Service selects, resolves the port's target in that pod, and streams
// through the API server and the pod's kubelet. It returns the local
// address; the forward ends with the test.
func portForwardService(t *testing.T, namespace, service, portName string) string {
	t.Helper()
	ctx := context.Background()
	svc, err := client.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get service %s: %v", service, err)
	}
	pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		t.Fatalf("list the pods of service %s: %v", service, err)
	}
	var pod *corev1.Pod
	for i := range pods.Items {
		if pods.Items[i].Status.Phase == corev1.PodRunning {
			pod = &pods.Items[i]
		}
	}
	if pod == nil {
		t.Fatalf("service %s selects no running pod", service)
	}
	port := targetPort(t, svc, pod, portName)

	cfg, err := clientcmd.BuildConfigFromFlags("", testCluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatalf("port-forward transport: %v", err)
	}
	url := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod.Name).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, testLogWriter{t})
	if err != nil {
		t.Fatalf("port-forward to %s: %v", pod.Name, err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("port-forward to %s:%d: %v", pod.Name, port, err)
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		t.Fatalf("port-forward's local port: %v %v", ports, err)
	}
	t.Logf("port-forward svc/%s %s → pod %s:%d on 127.0.0.1:%d", service, portName, pod.Name, port, ports[0].Local)
	return "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
}

// targetPort is the container port a Service's named port sends to in pod.
func targetPort(t *testing.T, svc *corev1.Service, pod *corev1.Pod, portName string) int32 {
	t.Helper()
	for _, sp := range svc.Spec.Ports {
		if sp.Name != portName {
			continue
		}
		if sp.TargetPort.StrVal == "" {
			return sp.TargetPort.IntVal
		}
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal {
					return cp.ContainerPort
				}
			}
		}
	}
	t.Fatalf("service %s has no port %s that pod %s serves", svc.Name, portName, pod.Name)
	return 0
}
