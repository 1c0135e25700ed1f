// Package watch is `kubectl graceline watch`: events as the collector
// stores them, until interrupted.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/util/wait"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
	"github.com/graceline/graceline/cmd/kubectl-graceline/format"
)

// NewCommand returns the watch subcommand.
func NewCommand(o *conn.Options) *cobra.Command {
	var output, node string
	var all bool
	cmd := &cobra.Command{
		Use:   "watch [POD]",
		Short: "Stream events live as the collector stores them",
		Long: `Stream events as the collector stores them, one line each, until interrupted.
Give a POD (NAMESPACE/NAME or NAME) to follow one pod. If the collector
restarts or the stream is cut, watch reconnects and says so on stderr; events
stored meanwhile are not replayed (use timeline for those).

Through the API server (no --collector), watch follows the podterminations
resource: one line each time a pod's termination changes (its summary, a
stuck report, the object's removal), not every event of the node.`,
		Example:           "  kubectl graceline watch -A\n  kubectl graceline watch shop/web-7d9c4-x2k -o json",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: o.CompletePods,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := conn.CheckOutput(output); err != nil {
				return err
			}
			ns, err := o.Namespace()
			if err != nil {
				return err
			}
			req := &apiv1.WatchRequest{Node: node}
			if !all {
				req.Namespace = ns
			}
			if len(args) == 1 {
				if req.Namespace, req.Name, err = conn.SplitPod(args[0], ns); err != nil {
					return err
				}
			}
			print := printer(cmd.OutOrStdout(), output)
			if !o.Collecting() {
				c, err := o.KubeClient()
				if err != nil {
					return err
				}
				return followAPI(cmd.Context(), c, req, print, cmd.ErrOrStderr())
			}
			cc, err := o.Dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			return follow(cmd.Context(), apiv1.NewQueryClient(cc), req, print, cmd.ErrOrStderr(), o.Collector.Address)
		},
	}
	f := cmd.Flags()
	conn.AddOutputFlag(f, &output)
	f.BoolVarP(&all, "all-namespaces", "A", false, "every namespace, not only the current one")
	f.StringVar(&node, "node", "", "only events of this node")
	return cmd
}

// follow keeps a watch open, reconnecting after a stream that worked broke.
// Refusals (a bad token) end it at once.
func follow(ctx context.Context, q apiv1.QueryClient, req *apiv1.WatchRequest, print func(*apiv1.Event) error, stderr io.Writer, addr string) error {
	backoff := wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.3, Steps: 1 << 30, Cap: 15 * time.Second}
	for {
		err := stream(ctx, q, req, print, stderr)
		if ctx.Err() != nil {
			return nil
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.ResourceExhausted, codes.Internal:
		default:
			return conn.Explain(err, addr)
		}
		d := backoff.Step()
		fmt.Fprintln(stderr, format.Line(fmt.Sprintf("watch interrupted (%v); reconnecting in %s", conn.Explain(err, addr), d.Round(time.Millisecond))))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
	}
}

func stream(ctx context.Context, q apiv1.QueryClient, req *apiv1.WatchRequest, print func(*apiv1.Event) error, stderr io.Writer) error {
	s, err := q.Watch(ctx, req)
	if err != nil {
		return err
	}
	// The collector sends the header once the watch is in place.
	if _, err := s.Header(); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "watching; interrupt to stop")
	for {
		e, err := s.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return status.Error(codes.Unavailable, "collector ended the stream")
			}
			return err
		}
		if err := print(e); err != nil {
			return err
		}
	}
}

func printer(w io.Writer, output string) func(*apiv1.Event) error {
	if output == conn.OutputJSON {
		return func(e *apiv1.Event) error { return conn.WriteJSONLines(w, []*apiv1.Event{e}) }
	}
	return func(e *apiv1.Event) error {
		_, err := fmt.Fprintln(w, Line(e))
		return err
	}
}

// Line is one event as watch prints it.
func Line(e *apiv1.Event) string {
	pod := "-"
	if p := e.GetPod(); p != nil {
		pod = p.Namespace + "/" + p.Name
	}
	node := e.Node
	if node == "" {
		node = "-"
	}
	return format.Line(fmt.Sprintf("%s  %-12s %-28s %-20s %s", e.GetTime().AsTime().Local().Format("15:04:05.000"), node, pod, e.Kind, format.Detail(e)))
}
