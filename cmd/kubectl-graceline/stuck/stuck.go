// Package stuck is `kubectl graceline stuck`: why pods are still
// Terminating, blocking phase first, then the evidence, then what to try.
package stuck

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
)

// NewCommand returns the stuck subcommand.
func NewCommand(o *conn.Options) *cobra.Command {
	var output, node string
	var all bool
	cmd := &cobra.Command{
		Use:   "stuck",
		Short: "Show pods stuck in Terminating now, and why",
		Long: `Show every pod that an agent reports stuck now (and that has not been seen to
go since): the phase that blocks it, the evidence (process states, signals,
mounts, finalizers), and what to try. With -o json each is the pod's latest
stuck event.`,
		Example: "  kubectl graceline stuck -A",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := conn.CheckOutput(output); err != nil {
				return err
			}
			req := &apiv1.StuckRequest{Node: node}
			if !all {
				req.Namespace = o.Namespace()
			}
			cc, err := o.Dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			resp, err := apiv1.NewQueryClient(cc).Stuck(ctx, req)
			if err != nil {
				return conn.Explain(err, o.Collector.Address)
			}
			if output == conn.OutputJSON {
				return conn.WriteJSONLines(cmd.OutOrStdout(), resp.Stuck)
			}
			return Render(cmd.OutOrStdout(), resp.Stuck, time.Now())
		},
	}
	f := cmd.Flags()
	conn.AddOutputFlag(f, &output)
	f.BoolVarP(&all, "all-namespaces", "A", false, "every namespace, not only the current one")
	f.StringVar(&node, "node", "", "only pods of this node")
	return cmd
}

// hints say what to try for the blocking phases a diagnosis names.
var hints = map[string]string{
	"prestop":    "the preStop hook has not returned: check what it waits for, or lower its timeout",
	"stop":       "the container has not exited: look at the evidence for a process in D state or a blocked signal",
	"exit":       "a process did not exit after SIGKILL: it is likely in uninterruptible sleep (D state) on I/O or a hung mount",
	"teardown":   "the sandbox is not torn down: check the CNI plugin (DEL) and the runtime's logs",
	"mounts":     "a volume is still mounted: look for a process holding it (lsof, fuser) or a hung NFS server",
	"volumes":    "a volume is still mounted: look for a process holding it (lsof, fuser) or a hung NFS server",
	"finalizers": "a finalizer is still set: find the controller that owns it, or remove it once you know why it is there",
}

// Render writes one block per stuck pod.
func Render(w io.Writer, stuck []*apiv1.Event, now time.Time) error {
	if len(stuck) == 0 {
		_, err := fmt.Fprintln(w, "no stuck pods")
		return err
	}
	for i, e := range stuck {
		if i > 0 {
			fmt.Fprintln(w)
		}
		since := e.GetSince().AsTime()
		if e.Since == nil {
			since = e.GetTime().AsTime()
		}
		fmt.Fprintf(w, "POD %s/%s  node %s  stuck for %s (since %s)\n", e.GetPod().GetNamespace(), e.GetPod().GetName(), e.Node,
			now.Sub(since).Round(time.Second), since.UTC().Format(time.RFC3339))
		phase := e.BlockingPhase
		if phase == "" {
			phase = e.Verdict
		}
		fmt.Fprintf(w, "  BLOCKING  %s\n", phase)
		for j, ev := range e.Evidence {
			label := "          "
			if j == 0 {
				label = "EVIDENCE  "
			}
			fmt.Fprintf(w, "  %s- %s\n", label, ev)
		}
		if h, ok := hints[strings.ToLower(phase)]; ok {
			fmt.Fprintf(w, "  TRY       %s\n", h)
		}
	}
	return nil
}
