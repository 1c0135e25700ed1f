// Package list is `kubectl graceline list`: recent terminations, one line
// each, with verdict and duration.
package list

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	summ "github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
	"github.com/graceline/graceline/cmd/kubectl-graceline/format"
	"github.com/graceline/graceline/internal/cli"
)

// NewCommand returns the list subcommand.
func NewCommand(o *conn.Options) *cobra.Command {
	var output, node, verdict string
	var all bool
	var since time.Duration
	var limit int32
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List recent pod terminations with their verdict and duration",
		Long: `List recent terminations, newest first: one line per pod with its node, verdict
(graceful, killed, stuck), whether SIGKILL was needed, how long it took and
the containers' exit codes. When the collector watched the API for some of
them, an ENDPOINT LAG column gives the stop signal's time minus the moment
the pod's endpoints stopped taking traffic; a negative lag is marked RISK:
the pod was signalled while it could still receive requests. -o wide adds
who started each termination (INITIATOR).

-o json, yaml, name, jsonpath=… and custom-columns=… print PodTermination
objects as kubectl get podterminations does; -o jsonl prints one
termination_summary event per line, in the event contract.`,
		Example: "  kubectl graceline list -A --verdict killed --since 1h",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := conn.CheckObjectOutput(output); err != nil {
				return err
			}
			if verdict != "" {
				if err := cli.OneOf("verdict", verdict, apiv1.VerdictGraceful, apiv1.VerdictKilled, apiv1.VerdictStuck); err != nil {
					return err
				}
			}
			if since < 0 {
				return cli.Usagef("--since %s: want a positive duration such as 1h, or 0 for all", since)
			}
			if limit < 1 {
				return cli.Usagef("--limit %d: want at least 1", limit)
			}
			req := &apiv1.ListRequest{Node: node, Verdict: verdict, Limit: limit}
			if !all {
				ns, err := o.Namespace()
				if err != nil {
					return err
				}
				req.Namespace = ns
			}
			if since > 0 {
				req.Since = timestamppb.New(time.Now().Add(-since))
			}
			var resp *apiv1.ListResponse
			err := o.Query(cmd.Context(), func(ctx context.Context, q conn.Source) (err error) {
				resp, err = q.List(ctx, req)
				return err
			})
			if err != nil {
				return err
			}
			switch {
			case output == conn.OutputJSONLines:
				return conn.WriteJSONLines(cmd.OutOrStdout(), resp.Terminations)
			case conn.Printed(output):
				return conn.PrintObject(cmd.OutOrStdout(), output, v1alpha1.TerminationList(resp.Terminations))
			}
			return render(cmd.OutOrStdout(), resp.Terminations, time.Now(), output == conn.OutputWide)
		},
	}
	f := cmd.Flags()
	conn.AddObjectOutputFlag(f, &output)
	f.BoolVarP(&all, "all-namespaces", "A", false, "list every namespace, not only the current one")
	f.StringVar(&node, "node", "", "only pods of this node")
	f.StringVar(&verdict, "verdict", "", "only this verdict: graceful, killed or stuck")
	f.DurationVar(&since, "since", 0, "only pods active within this long (e.g. 1h)")
	f.Int32Var(&limit, "limit", 50, "at most this many pods")
	return cmd
}

// Render writes one row per termination summary.
func Render(w io.Writer, summaries []*apiv1.Event, now time.Time) error {
	return render(w, summaries, now, false)
}

// render writes the table; wide adds the initiator.
func render(w io.Writer, summaries []*apiv1.Event, now time.Time, wide bool) error {
	if len(summaries) == 0 {
		_, err := fmt.Fprintln(w, "no terminations found")
		return err
	}
	// The endpoint lag is known only where the collector watched the API;
	// without it anywhere, the column would be dashes only.
	lags, causes := false, false
	for _, s := range summaries {
		lags = lags || s.GetEndpointLag() != nil
		causes = causes || len(s.GetCauses()) > 0
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "NAMESPACE\tPOD\tNODE\tVERDICT\tKILLED\tDURATION"
	if lags {
		head += "\tENDPOINT LAG"
	}
	head += "\tLAST EVENT\tEXIT CODES"
	// Likewise, summaries from agents that predate causes have none.
	if causes {
		head += "\tCAUSES"
	}
	if wide {
		head += "\tINITIATOR"
	}
	fmt.Fprintln(tw, head)
	for _, s := range summaries {
		v := s.Verdict
		if v == "" {
			v = "terminating"
		}
		row := []string{s.GetPod().GetNamespace(), s.GetPod().GetName(), s.Node, v, yesNo(s.GetKilled()), duration(s)}
		if lags {
			row = append(row, endpointLag(s))
		}
		row = append(row, age(now.Sub(s.GetTime().AsTime())), exitCodes(s.ExitCodes))
		if causes {
			row = append(row, orDash(format.Causes(s)))
		}
		if wide {
			row = append(row, orDash(s.GetInitiator()))
		}
		fmt.Fprintln(tw, format.Row(row...))
	}
	return tw.Flush()
}

// endpointLag is the lag with RISK after a negative one, or "-".
func endpointLag(s *apiv1.Event) string {
	if s.GetEndpointLag() == nil {
		return "-"
	}
	d := format.Relative(s.GetEndpointLag().AsDuration())
	if format.TrafficRisk(s) {
		d += " RISK"
	}
	return d
}

// duration spans the summary's phases, by the summary package's rule.
func duration(s *apiv1.Event) string {
	d, ok := summ.Span(s)
	if !ok {
		return "-"
	}
	return format.Duration(d)
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func exitCodes(m map[string]int32) string {
	if len(m) == 0 {
		return "-"
	}
	var out []string
	for name, c := range m {
		out = append(out, fmt.Sprintf("%s=%d", name, c))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
