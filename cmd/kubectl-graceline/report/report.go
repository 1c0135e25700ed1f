// Package report is `kubectl graceline report`: how each workload's pods
// terminated over a window, one line per workload.
package report

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
	"github.com/graceline/graceline/cmd/kubectl-graceline/format"
	"github.com/graceline/graceline/internal/cli"
)

// DefaultSince is the report's window when --since is not given, the
// aggregated API's default.
const DefaultSince = v1alpha1.DefaultReportWindow

// NewCommand returns the report subcommand.
func NewCommand(o *conn.Options) *cobra.Command {
	var output string
	var all bool
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Sum up terminations per workload: killed %, p50/p95 duration, the most common cause",
		Long: `Sum up, per owner workload (Deployment, StatefulSet, DaemonSet, Job; a pod of
a ReplicaSet counts under its Deployment), the pods whose delete request the
collector saw within --since:

  TERMINATIONS  pods whose deletion was requested in the window
  KILLED        the share of the finished ones that needed SIGKILL
  P50, P95      the delete request to the object's removal, finished pods
  RISK          the share of the finished ones signalled while a Service's
                endpoints still offered them (traffic risk)
  STUCK         pods reported stuck in Terminating at least once
  CAUSE         the most common cause of the finished pods, with how many
                had it; under the row, TRY is the advice of the latest one
  INITIATORS    who started the terminations (rollout, scale_down,
                eviction_api, api_delete, ...) with their counts

A pod is finished once the collector stored its final summary, shortly after
the object is gone. The collector computes the report from its database; it
needs its Kubernetes watches on (pods without an owner, or deleted while the
collector did not watch, are not in it). Through the API server it reads
workloadreports (kubectl get workloadreports -n NS --field-selector
status.window=24h shows the same), so a namespace's report needs the right
to read that namespace's terminations, and -A the right in every namespace.
With -o json each workload is one JSON object per line.`,
		Example: "  kubectl graceline report -n shop\n  kubectl graceline report -A --since 168h -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := conn.CheckOutput(output); err != nil {
				return err
			}
			if since <= 0 {
				return cli.Usagef("--since %s: want a positive duration such as 24h", since)
			}
			req := &apiv1.ReportRequest{Since: timestamppb.New(time.Now().Add(-since))}
			if !all {
				ns, err := o.Namespace()
				if err != nil {
					return err
				}
				req.Namespace = ns
			}
			var resp *apiv1.ReportResponse
			err := o.Query(cmd.Context(), func(ctx context.Context, q conn.Source) (err error) {
				resp, err = q.Report(ctx, req)
				return err
			})
			if err != nil {
				return err
			}
			if output == conn.OutputJSON {
				return conn.WriteJSONMessages(cmd.OutOrStdout(), resp.Workloads)
			}
			return Render(cmd.OutOrStdout(), resp.Workloads)
		},
	}
	f := cmd.Flags()
	conn.AddOutputFlag(f, &output)
	f.BoolVarP(&all, "all-namespaces", "A", false, "report on every namespace, not only the current one")
	f.DurationVar(&since, "since", DefaultSince, "count terminations requested within this long (e.g. 1h, 168h)")
	return cmd
}

// Render writes one row per workload, and under it the advice for its most
// common cause when that cause is not a clean exit.
func Render(w io.Writer, reports []*apiv1.WorkloadReport) error {
	if len(reports) == 0 {
		_, err := fmt.Fprintln(w, "no terminations of owned pods in this window")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tWORKLOAD\tTERMINATIONS\tKILLED\tP50\tP95\tRISK\tSTUCK\tCAUSE\tINITIATORS")
	var advice []string
	for _, r := range reports {
		name := r.GetWorkload().GetKind() + "/" + r.GetWorkload().GetName()
		row := []string{r.Namespace, name, fmt.Sprint(r.Terminations), percent(r.Killed, r.Finished),
			durationOf(r, r.DurationP50.AsDuration()), durationOf(r, r.DurationP95.AsDuration()),
			percent(r.TrafficRisk, r.Finished), fmt.Sprint(r.Stuck), cause(r), initiators(r.Initiators)}
		fmt.Fprintln(tw, format.Row(row...))
		if r.Advice != "" && r.Cause != apiv1.CauseExitedOnStopSignal {
			advice = append(advice, format.Line(fmt.Sprintf("TRY %s/%s  %s", r.Namespace, name, r.Advice)))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range advice {
		if _, err := fmt.Fprintln(w, a); err != nil {
			return err
		}
	}
	return nil
}

// percent is part of whole as a whole percentage, or "-" when nothing is
// finished.
func percent(part, whole int64) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%d%%", (part*100+whole/2)/whole)
}

func durationOf(r *apiv1.WorkloadReport, d time.Duration) string {
	if r.Finished == 0 {
		return "-"
	}
	return format.Duration(d)
}

func cause(r *apiv1.WorkloadReport) string {
	if r.Cause == "" {
		return "-"
	}
	return fmt.Sprintf("%s (%d)", r.Cause, r.CauseCount)
}

// initiators lists the counts, most frequent first: "rollout=3 api_delete=1".
func initiators(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if m[a] != m[b] {
			return int(m[b] - m[a])
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, m[n])
	}
	return strings.Join(parts, " ")
}
