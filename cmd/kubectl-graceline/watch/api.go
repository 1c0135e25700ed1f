package watch

import (
	"context"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/format"
	"github.com/graceline/graceline/cmd/kubectl-graceline/kube"
)

// followAPI watches the podterminations resource through the API server
// and prints each termination as it changes, as its summary event. A watch
// the server ended or let expire is started again; a refusal ends it.
func followAPI(ctx context.Context, c *kube.Client, req *apiv1.WatchRequest, print func(*apiv1.Event) error, stderr io.Writer) error {
	backoff := wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.3, Steps: 1 << 30, Cap: 15 * time.Second}
	said := false
	ready := func() {
		if !said {
			fmt.Fprintln(stderr, "watching; interrupt to stop")
			said = true
		}
	}
	for {
		err := c.WatchTerminations(ctx, req.Namespace, req.Name, req.Node, ready, func(p *v1alpha1.PodTermination) error {
			return print(v1alpha1.FromTermination(p))
		})
		if ctx.Err() != nil {
			return nil
		}
		if !kube.Retryable(err) {
			return err
		}
		d := backoff.Step()
		fmt.Fprintln(stderr, format.Line(fmt.Sprintf("watch interrupted (%v); watching again in %s", err, d.Round(time.Millisecond))))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
	}
}
