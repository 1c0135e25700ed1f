package cluster_test

import (
	"context"
	"testing"
)

// portForwardService forwards a local port to a Service's port, as
// `kubectl port-forward svc/NAME PORT` does (cluster.PortForwardService).
// It returns the local address; the forward ends with the test.
func portForwardService(t *testing.T, namespace, service, portName string) string {
	t.Helper()
	address, pod, end, err := testCluster.PortForwardService(context.Background(), namespace, service, portName, testLogWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(end)
	t.Logf("port-forward svc/%s %s → pod %s on %s", service, portName, pod, address)
	return address
}
