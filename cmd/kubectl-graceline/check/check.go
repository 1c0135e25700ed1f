// Package check is `kubectl graceline check`: before a rollout, what each
// running container's next stop would end in, and what to change.
package check

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
	"github.com/graceline/graceline/cmd/kubectl-graceline/format"
	"github.com/graceline/graceline/internal/cli"
)

// DefaultHistory is how far back the check looks for past terminations,
// the collector's own default.
const DefaultHistory = 7 * 24 * time.Hour

// workloadKinds maps what kubectl accepts for a workload's resource to
// the owner kind the collector names it by.
var workloadKinds = map[string]string{
	"deploy": "Deployment", "deployment": "Deployment", "deployments": "Deployment",
	"sts": "StatefulSet", "statefulset": "StatefulSet", "statefulsets": "StatefulSet",
	"ds": "DaemonSet", "daemonset": "DaemonSet", "daemonsets": "DaemonSet",
	"job": "Job", "jobs": "Job",
	"rs": "ReplicaSet", "replicaset": "ReplicaSet", "replicasets": "ReplicaSet",
}

// NewCommand returns the check subcommand.
func NewCommand(o *conn.Options) *cobra.Command {
	var output string
	var all, failOnKill bool
	var history time.Duration
	cmd := &cobra.Command{
		Use:   "check [deploy/NAME | sts/NAME | ds/NAME | job/NAME | pod/NAME]",
		Short: "Predict, before a rollout, which running containers will not stop gracefully, and why",
		Long: `Predict what each running container's next stop would end in, from what its
node's agent read of it while it runs, and from its workload's past stops:

  PID1         the container's init process; "shell" when it is a shell,
               with how many long-running children it has
  SIGNAL       the stop signal the runtime will send (the image's STOPSIGNAL,
               SIGTERM by default)
  DISPOSITION  what the init does with that signal: handler, ignored,
               blocked, or default (which the kernel drops for a PID
               namespace's init, but not for a container's init in a pod
               that shares its process namespace, which it ends)
  PREDICTED    graceful, or killed (SIGKILL at the end of the grace period)
  CAUSE        why, in the words a termination's summary uses afterwards
  P95/GRACE    the p95 of the workload's past terminations (delete request
               to removal) against the pod's terminationGracePeriodSeconds
  SIGKILLED    how many of those past terminations needed SIGKILL

Under the table, TRY gives the one change for each container that will be
killed. A handler that outlasted the grace period shows only in history:
after one such termination, the workload's next pods are predicted killed.

The agent reads each container at its start, 3 s later and then every
--readiness-interval (1m by default); a container started since is not
listed yet. With --fail-on-kill the command exits 3 when any container is
predicted killed, for a pipeline to stop a rollout on. -o json writes one
JSON object per container. A workload (deploy/NAME and the like) needs the
collector's Kubernetes watches, which name each pod's owner.`,
		Example: `  kubectl graceline check -n shop
  kubectl graceline check -n shop deploy/web --fail-on-kill
  kubectl graceline check -A -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := conn.CheckOutput(output); err != nil {
				return err
			}
			if history <= 0 {
				return cli.Usagef("--history %s: want a positive duration such as 168h", history)
			}
			req := &apiv1.CheckRequest{Since: timestamppb.New(time.Now().Add(-history))}
			if len(args) == 1 {
				w, pod, err := parseTarget(args[0])
				if err != nil {
					return err
				}
				req.Workload, req.Pod = w, pod
			}
			if !all || req.Workload != nil || req.Pod != "" {
				if all {
					return cli.Usagef("-A: a workload or a pod is checked within one namespace: give -n instead")
				}
				ns, err := o.Namespace()
				if err != nil {
					return err
				}
				req.Namespace = ns
			}
			var resp *apiv1.CheckResponse
			err := o.Query(cmd.Context(), func(ctx context.Context, q conn.Source) (err error) {
				resp, err = q.Check(ctx, req)
				return err
			})
			if err != nil {
				return err
			}
			if output == conn.OutputJSON {
				err = conn.WriteJSONMessages(cmd.OutOrStdout(), resp.Containers)
			} else {
				err = Render(cmd.OutOrStdout(), resp.Containers)
			}
			if err != nil {
				return err
			}
			if n := killed(resp.Containers); failOnKill && n > 0 {
				return &cli.FindingsError{Msg: fmt.Sprintf("%d of %d containers are predicted to be killed on their next stop", n, len(resp.Containers))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	conn.AddOutputFlag(f, &output)
	f.BoolVarP(&all, "all-namespaces", "A", false, "check every namespace's running containers, not only the current namespace's")
	f.BoolVar(&failOnKill, "fail-on-kill", false, "exit 3 when any container is predicted to be killed")
	f.DurationVar(&history, "history", DefaultHistory, "look this far back for the workloads' past terminations (e.g. 24h, 720h)")
	return cmd
}

// parseTarget reads a kind/NAME argument, as kubectl names objects; a bare
// name is a pod's.
func parseTarget(arg string) (*apiv1.WorkloadRef, string, error) {
	kind, name, found := strings.Cut(arg, "/")
	if !found {
		kind, name = "pod", arg
	}
	if name == "" || strings.Contains(name, "/") {
		return nil, "", cli.Usagef("%q: want KIND/NAME, such as deploy/web or pod/web-0", arg)
	}
	switch k := strings.ToLower(kind); {
	case k == "pod" || k == "pods" || k == "po":
		return nil, name, nil
	case workloadKinds[k] != "":
		return &apiv1.WorkloadRef{Kind: workloadKinds[k], Name: name}, "", nil
	}
	return nil, "", cli.Usagef("%q: %s is not a workload kind: want deploy, sts, ds, job, rs or pod", arg, kind)
}

func killed(cs []*apiv1.ContainerCheck) int {
	n := 0
	for _, c := range cs {
		if c.GetPrediction().GetOutcome() == summary.OutcomeKilled {
			n++
		}
	}
	return n
}

// Render writes one row per container, then the advice for each that will
// be killed or could not be read, then a verdict line.
func Render(w io.Writer, cs []*apiv1.ContainerCheck) error {
	if len(cs) == 0 {
		_, err := fmt.Fprintln(w, "no running container has been read yet: the agent reads each at its start and shortly after")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tWORKLOAD\tPOD\tCONTAINER\tPID1\tSIGNAL\tDISPOSITION\tPREDICTED\tCAUSE\tP95/GRACE\tSIGKILLED")
	var advice []string
	for _, c := range cs {
		p, r := c.GetPrediction(), c.GetReadiness()
		fmt.Fprintln(tw, format.Row(c.Namespace, workload(c.Workload), c.GetPod().GetName(), c.Container, pid1(r, p),
			orDash(r.GetSignal().GetName()), orDash(r.GetDisposition()), orDash(p.GetOutcome()), orDash(p.GetCause()),
			p95Grace(c), sigkilled(c)))
		if p.GetOutcome() != summary.OutcomeGraceful && p.GetAdvice() != "" {
			advice = append(advice, format.Line(fmt.Sprintf("TRY %s/%s/%s  %s", c.Namespace, c.GetPod().GetName(), c.Container, p.GetAdvice())))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range advice {
		fmt.Fprintln(w, a)
	}
	var err error
	if n := killed(cs); n > 0 {
		_, err = fmt.Fprintf(w, "%d of %d containers are predicted to be SIGKILLed on their next stop\n", n, len(cs))
	} else {
		_, err = fmt.Fprintf(w, "no container of %d is predicted to be SIGKILLed\n", len(cs))
	}
	return err
}

func workload(w *apiv1.WorkloadRef) string {
	if w == nil {
		return "-"
	}
	return w.Kind + "/" + w.Name
}

// pid1 names the init and, for a shell, its long-running children.
func pid1(r *apiv1.Event, p *apiv1.Prediction) string {
	procs := r.GetProcesses()
	if len(procs) == 0 {
		return "-"
	}
	s := fmt.Sprintf("%s[%d]", procs[0].GetComm(), procs[0].GetPid())
	if p.GetShell() {
		s += fmt.Sprintf(" shell, %d child", p.GetChildren())
		if p.GetChildren() != 1 {
			s += "ren"
		}
	}
	return s
}

func p95Grace(c *apiv1.ContainerCheck) string {
	p95, grace := "-", "-"
	if c.Terminations > 0 {
		p95 = format.Duration(c.ShutdownP95.AsDuration())
	}
	if c.Grace != nil {
		grace = format.Duration(c.Grace.AsDuration())
	}
	return p95 + "/" + grace
}

func sigkilled(c *apiv1.ContainerCheck) string {
	if c.Terminations == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", c.Killed, c.Terminations)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
