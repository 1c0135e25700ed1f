// Package timeline is `kubectl graceline timeline`: one pod's termination,
// step by step, relative to the start of its deletion.
package timeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
	"github.com/graceline/graceline/cmd/kubectl-graceline/format"
)

// NewCommand returns the timeline subcommand.
func NewCommand(o *conn.Options) *cobra.Command {
	var output, uid string
	var all bool
	cmd := &cobra.Command{
		Use:   "timeline NAMESPACE/POD | POD",
		Short: "Show how one pod terminated, step by step",
		Long: `Show every event of one pod's termination, in time order and relative to the
delete request (or, when the collector did not see it, to the node's first
action), with the verdict first: graceful, killed (SIGKILL was needed) or
stuck, and for a stuck pod the phase that holds it. Under the verdict, each
container's CAUSE says why it ended the way it did (for example
pid1_no_handler: its PID 1 had no SIGTERM handler, so the kernel dropped the
signal) and TRY the one thing to change; an unknown cause lists the facts
that were seen. Signals read sender → target.

The header names the pod's owner workload and who started the termination
(the initiator: rollout, scale_down, eviction_api, preemption, api_delete,
...), as the collector read them from the API at the delete request.

Rows marked API come from the collector's watch of the Kubernetes API (the
delete request, the endpoints dropping the pod, finalizer changes, the
object's removal); rows marked node come from the node's agent. When both
were seen, a CLUSTER line gives the delay from the delete request to the
node's first action (api→node), the endpoint lag (the stop signal's time
minus the moment the last Service stopped offering the pod; negative is a
TRAFFIC RISK: the pod was signalled while it could still receive requests),
and how long the object outlived the node's work (node→API).

The table starts where the deletion does; what happened before (the pod's
start, the runtime's set-up of its containers) is counted in one line, and
--all shows it.

A pod name seen more than once (a pod recreated under the same name) shows
the most recent one; --uid picks another, with its name (through the API
server it reads podterminations/POD/timeline?uid=UID in the pod's namespace,
so a uid of another namespace's or another name's pod is not found). With -o json every event is
printed as the agents and the collector stored them, one JSON object per
line.`,
		Example:           "  kubectl graceline timeline shop/web-7d9c4-x2k\n  kubectl graceline timeline web-7d9c4-x2k -n shop -o json\n  kubectl graceline timeline shop/web-7d9c4-x2k --uid 1f2e3d4c-...  # an earlier pod of that name",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: o.CompletePods,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := conn.CheckOutput(output); err != nil {
				return err
			}
			ns, err := o.Namespace()
			if err != nil {
				return err
			}
			ns, name, err := conn.SplitPod(args[0], ns)
			if err != nil {
				return err
			}
			var resp *apiv1.TimelineResponse
			err = o.Query(cmd.Context(), func(ctx context.Context, q conn.Source) (err error) {
				resp, err = q.Timeline(ctx, &apiv1.TimelineRequest{Namespace: ns, Name: name, Uid: uid})
				return err
			})
			if err != nil {
				return err
			}
			if output == conn.OutputJSON {
				return conn.WriteJSONLines(cmd.OutOrStdout(), resp.Events)
			}
			return Render(cmd.OutOrStdout(), resp.Events, resp.Summary, all)
		},
	}
	conn.AddOutputFlag(cmd.Flags(), &output)
	cmd.Flags().StringVar(&uid, "uid", "", "show the pod with this UID instead of the latest of its name")
	cmd.Flags().BoolVar(&all, "all", false, "also show the events from before the deletion began (the pod's start and life)")
	return cmd
}

const sigkill = 9

// startKinds mark the start of a deletion, best first: the delete request
// when the cluster side reported it, else the first thing the node did.
var startKinds = [][]string{
	{apiv1.KindDeleteRequested},
	{apiv1.KindPreStopExec, apiv1.KindSignalGenerated, apiv1.KindSignalDelivered, apiv1.KindContainerExited},
}

// origin picks time zero of the timeline.
func origin(events []*apiv1.Event) time.Time {
	for _, kinds := range startKinds {
		for _, e := range events {
			for _, k := range kinds {
				if e.Kind == k {
					return e.GetTime().AsTime()
				}
			}
		}
	}
	return events[0].GetTime().AsTime()
}

// Render writes the timeline table: a header, the verdict, then one row per
// event from the start of the deletion on; all adds the earlier ones, which
// otherwise are counted in one line.
func Render(w io.Writer, events []*apiv1.Event, summary *apiv1.Event, all bool) error {
	if len(events) == 0 {
		_, err := fmt.Fprintln(w, "no events")
		return err
	}
	t0 := origin(events)
	last := events[len(events)-1].GetTime().AsTime()
	fmt.Fprintln(w, format.Line(header(events, summary)))
	fmt.Fprintln(w, format.Line(verdict(events, summary, last.Sub(t0))))
	for _, l := range format.CauseLines(summary) {
		fmt.Fprintln(w, format.Line(l))
	}
	if c := format.Cluster(summary, stopSignal(events)); c != "" {
		fmt.Fprintln(w, format.Line("CLUSTER "+c))
	}
	var rows bytes.Buffer
	tw := tabwriter.NewWriter(&rows, 0, 0, 2, ' ', 0)
	earlier := 0
	for _, e := range events {
		at := e.GetTime().AsTime().Sub(t0)
		if at < 0 && !all {
			earlier++
			continue
		}
		fmt.Fprintln(tw, "  "+format.Row(format.Relative(at), format.Source(e), e.Kind, format.Detail(e)))
	}
	if earlier > 0 {
		fmt.Fprintf(w, "  (%d earlier events, from before the deletion began: --all shows them)\n", earlier)
	}
	tw.Flush()
	// Rows without detail would end in the kind column's padding.
	for _, line := range strings.SplitAfter(rows.String(), "\n") {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+strings.Repeat("\n", strings.Count(line, "\n"))); err != nil {
			return err
		}
	}
	return nil
}

func header(events []*apiv1.Event, summary *apiv1.Event) string {
	var pod *apiv1.PodRef
	node := ""
	for _, e := range events {
		if pod == nil && e.Pod != nil {
			pod = e.Pod
		}
		if node == "" && e.Node != "" {
			node = e.Node
		}
	}
	h := fmt.Sprintf("POD %s/%s  uid %s  node %s", pod.GetNamespace(), pod.GetName(), shortUID(pod.GetUid()), node)
	if summary != nil && summary.GracePeriodS != nil {
		h += fmt.Sprintf("  grace %ds", *summary.GracePeriodS)
	}
	if w := summary.GetWorkload(); w != nil {
		h += fmt.Sprintf("  workload %s/%s", w.Kind, w.Name)
	}
	if in := summary.GetInitiator(); in != "" {
		h += "  initiator " + in
		if info, ok := apiv1.LookupInitiator(in); ok {
			h += " (" + info.Title + ")"
		}
	}
	return h
}

func shortUID(uid string) string {
	if len(uid) > 8 {
		return uid[:8] + "…"
	}
	return uid
}

// verdict writes the one line a reader looks at first. A stuck pod's line
// names what holds it instead of a reason.
func verdict(events []*apiv1.Event, summary *apiv1.Event, total time.Duration) string {
	var line string
	switch summary.GetVerdict() {
	case apiv1.VerdictKilled:
		line = "VERDICT killed — " + killedWhy(summary)
	case apiv1.VerdictGraceful:
		line = "VERDICT graceful — every container exited within its grace period, no SIGKILL needed" + codes(summary)
	case apiv1.VerdictStuck:
		line = "VERDICT stuck " + stuckWhy(events, summary)
	default:
		line = "VERDICT unknown — no end of the termination seen yet"
	}
	if total > 0 {
		line += "; total " + format.Duration(total)
	}
	return line
}

func killedWhy(summary *apiv1.Event) string {
	var killed []string
	for _, name := range sortedKeys(summary.GetExitCodes()) {
		if c := summary.ExitCodes[name]; c == 137 {
			killed = append(killed, fmt.Sprintf("%s exit=%d", name, c))
		}
	}
	if len(killed) == 0 {
		return "SIGKILL was needed"
	}
	return strings.Join(killed, ", ") + "; SIGKILL was needed"
}

func codes(summary *apiv1.Event) string {
	var out []string
	for _, name := range sortedKeys(summary.GetExitCodes()) {
		out = append(out, fmt.Sprintf("%s=%d", name, summary.ExitCodes[name]))
	}
	if len(out) == 0 {
		return ""
	}
	return " (exit codes " + strings.Join(out, ", ") + ")"
}

// stuckWhy says where a stuck pod is held: by the summary's blocking phase
// and evidence when the collector joined them in, else by the latest stuck
// report. Finalizers come from the latest report or cluster event that
// lists them.
func stuckWhy(events []*apiv1.Event, summary *apiv1.Event) string {
	phase, evidence, fins := summary.GetBlockingPhase(), summary.GetEvidence(), summary.GetFinalizers()
	var last *apiv1.Event
	for i := len(events) - 1; i >= 0 && last == nil; i-- {
		if events[i].Kind == apiv1.KindStuck {
			last = events[i]
		}
	}
	if phase == "" && last != nil {
		phase, evidence = last.BlockingPhase, last.Evidence
	}
	if phase == "" {
		return "— no progress"
	}
	if len(fins) == 0 && phase == apiv1.PhaseFinalizers {
		fins = latestFinalizers(events)
	}
	return "at " + format.Blocking(phase, fins, evidence)
}

// latestFinalizers are the finalizers the last cluster event or stuck
// report listed.
func latestFinalizers(events []*apiv1.Event) []string {
	for i := len(events) - 1; i >= 0; i-- {
		switch e := events[i]; e.Kind {
		case apiv1.KindStuck, apiv1.KindFinalizersChanged, apiv1.KindDeleteRequested:
			if e.Kind != apiv1.KindStuck || len(e.Finalizers) > 0 {
				return e.Finalizers
			}
		}
	}
	return nil
}

// stopSignal names the first signal the node sent other than SIGKILL, for
// the endpoint lag's warning; "" when the node's events have none.
func stopSignal(events []*apiv1.Event) string {
	for _, e := range events {
		if e.Kind == apiv1.KindSignalGenerated && e.GetSignal().GetNumber() != sigkill {
			return format.SignalName(e.Signal)
		}
	}
	return ""
}

func sortedKeys(m map[string]int32) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
