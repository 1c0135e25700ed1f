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

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
	"github.com/graceline/graceline/cmd/kubectl-graceline/format"
)

// NewCommand returns the stuck subcommand.
func NewCommand(o *conn.Options) *cobra.Command {
	var output, node string
	var all bool
	cmd := &cobra.Command{
		Use:   "stuck",
		Short: "Show pods stuck in Terminating now, and why",
		Long: `Show every pod reported stuck now (and not seen to go since), in every
namespace unless -n is given: the phase that blocks it first, then what
holds it (finalizers, process states, signals, mounts), then what to try.

A pod is reported stuck by its node's agent (source node: the preStop hook,
the stop signal, SIGKILL, the sandbox teardown or the removal has not
finished) or by the collector's watch of the Kubernetes API (source API: the
node finished but finalizers hold the object, or the node never acted on
the deletion). -o wide is the same as the default.

-o json, yaml, name, jsonpath=… and custom-columns=… print StuckPod objects
as kubectl get stuckpods does; -o jsonl prints each pod's latest stuck event
on one line, in the event contract.`,
		Example: "  kubectl graceline stuck\n  kubectl graceline stuck -n shop --node worker-3",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := conn.CheckObjectOutput(output); err != nil {
				return err
			}
			req := &apiv1.StuckRequest{Namespace: namespace(*o.Kube.Namespace, all), Node: node}
			var resp *apiv1.StuckResponse
			err := o.Query(cmd.Context(), func(ctx context.Context, q conn.Source) (err error) {
				resp, err = q.Stuck(ctx, req)
				return err
			})
			if err != nil {
				return err
			}
			switch {
			case output == conn.OutputJSONLines:
				return conn.WriteJSONLines(cmd.OutOrStdout(), resp.Stuck)
			case conn.Printed(output):
				return conn.PrintObject(cmd.OutOrStdout(), output, v1alpha1.StuckList(resp.Stuck))
			}
			return Render(cmd.OutOrStdout(), resp.Stuck, time.Now())
		},
	}
	f := cmd.Flags()
	conn.AddObjectOutputFlag(f, &output)
	f.BoolVarP(&all, "all-namespaces", "A", false, "every namespace, even with -n (the default without -n)")
	f.StringVar(&node, "node", "", "only pods of this node")
	return cmd
}

// namespace is the namespace to ask about: every one ("") unless -n gave
// one. Unlike kubectl get, the kubeconfig context's namespace is not the
// default, since a stuck pod anywhere is the question; -A still overrides
// -n, as in kubectl.
func namespace(flag string, all bool) string {
	if all {
		return ""
	}
	return flag
}

// hints say what to try for the blocking phases of stuck reports that name
// no cause.
var hints = map[string]string{
	apiv1.PhasePreStop:         "the preStop hook has not returned: check what it waits for, or lower its timeout",
	apiv1.PhaseStopSignal:      "the container has not exited: look at the evidence for a process in D state or a blocked signal",
	apiv1.PhaseSIGKILL:         "a process did not exit after SIGKILL: it is likely in uninterruptible sleep (D state) on I/O or a hung mount",
	apiv1.PhaseSandboxTeardown: "the sandbox is not torn down: check the CNI plugin (DEL) and the runtime's logs",
	apiv1.PhaseResourceRelease: "a volume is still mounted or a cgroup is left: look for a process holding it (lsof, fuser) or a hung NFS server",
	apiv1.PhaseRemoval:         "the runtime has not removed the containers or the sandbox: check the kubelet's and the runtime's logs",
	apiv1.PhaseFinalizers:      "a finalizer is still set: find the controller that owns it, or remove it once you know why it is there",
	apiv1.PhaseNode:            "the node has not confirmed the deletion: check that its kubelet is running and reaches the API server",
}

// Render writes one block per stuck pod: who reported it and since when,
// the blocking phase, the finalizers that hold it, the evidence, and each
// cause with the one thing to try.
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
		line(w, "POD %s/%s  node %s  source %s  stuck for %s (since %s)", e.GetPod().GetNamespace(), e.GetPod().GetName(),
			orDash(e.Node), format.Source(e), now.Sub(since).Round(time.Second), since.UTC().Format(time.RFC3339))
		phase := e.BlockingPhase
		if phase == "" {
			phase = "unknown"
		}
		line(w, "  BLOCKING    %s", phase)
		if len(e.Finalizers) > 0 {
			line(w, "  FINALIZERS  %s", strings.Join(e.Finalizers, ", "))
		}
		for j, ev := range e.Evidence {
			label := "            "
			if j == 0 {
				label = "EVIDENCE    "
			}
			line(w, "  %s- %s", label, ev)
		}
		for _, c := range e.GetCauses() {
			title := c.GetCause()
			if info, ok := apiv1.LookupStuckCause(c.GetCause()); ok {
				title += ": " + info.Title
			}
			if name := c.GetContainer().GetName(); name != "" {
				title = "container " + name + "  " + title
			}
			line(w, "  CAUSE       %s", title)
			if c.GetAdvice() != "" {
				line(w, "  TRY         %s", c.GetAdvice())
			}
		}
		// A report from an agent or collector older than stuck causes says
		// only where it hangs.
		if h, ok := hints[strings.ToLower(phase)]; ok && len(e.GetCauses()) == 0 {
			line(w, "  TRY         %s", h)
		}
	}
	return nil
}

// line writes one line of a block, escaped for a terminal: the pod's
// name, the phase, finalizers and evidence all come from outside.
func line(w io.Writer, f string, args ...any) {
	fmt.Fprintln(w, format.Line(fmt.Sprintf(f, args...)))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
