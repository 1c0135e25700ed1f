package cluster

import (
	"context"
	"fmt"
	"io"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/graceline/graceline/internal/portforward"
)

// PortForwardService forwards a free local port to a Service's port, as
// `kubectl port-forward svc/NAME PORT` does, with the admin kubeconfig
// (see internal/portforward). It returns the local address, the pod and
// port it reaches, and a function that ends the forward; the forward's
// errors go to errs.
func (c *Cluster) PortForwardService(ctx context.Context, namespace, service, portName string, errs io.Writer) (string, string, func(), error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return "", "", nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	f, err := portforward.Service(ctx, cfg, namespace, service, portName, 0, errs)
	if err != nil {
		return "", "", nil, err
	}
	return f.Address, f.Target, f.Close, nil
}
