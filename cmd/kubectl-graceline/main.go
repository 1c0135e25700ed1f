// Command kubectl-graceline is graceline's kubectl plugin: it asks the
// aggregated API (or a collector) how pods terminated (`kubectl graceline timeline`), lists recent
// terminations, shows stuck pods and streams events live.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/graceline/graceline/cmd/kubectl-graceline/check"
	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
	"github.com/graceline/graceline/cmd/kubectl-graceline/list"
	"github.com/graceline/graceline/cmd/kubectl-graceline/report"
	"github.com/graceline/graceline/cmd/kubectl-graceline/stuck"
	"github.com/graceline/graceline/cmd/kubectl-graceline/timeline"
	"github.com/graceline/graceline/cmd/kubectl-graceline/ui"
	"github.com/graceline/graceline/cmd/kubectl-graceline/watch"
	"github.com/graceline/graceline/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := cli.Execute(ctx, newCommand(), os.Stderr)
	stop()
	os.Exit(code)
}

func newCommand() *cobra.Command {
	o := conn.NewOptions()
	cmd := &cobra.Command{
		Use:   "kubectl-graceline",
		Short: "Ask graceline how pods terminated",
		Long: `kubectl graceline asks graceline what happened when pods were deleted: the
timeline of one pod, recent terminations, pods stuck in Terminating now, a
live stream, a per-workload report, and a check of the running containers
that predicts which will be SIGKILLed on their next stop.

It reads the aggregated API graceline.dev/v1alpha1 through the API server of
the current kubeconfig context, as kubectl does: --kubeconfig, --context, -n
and -A work as in kubectl, with the user's own credentials and RBAC. A
kubeconfig or context that cannot be used is an error.

--collector (or $` + conn.EnvCollector + `) asks a collector directly instead, for one
outside any cluster; it needs a reader token: --token, --token-file or
$` + conn.EnvToken + `.

Namespaces follow kubectl: -n, else the current kubeconfig context's, and -A
for all; stuck looks at every namespace unless -n is given.`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl graceline"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	o.AddFlags(cmd.PersistentFlags())
	// -n completes as in kubectl; POD arguments complete in their commands.
	cmd.RegisterFlagCompletionFunc("namespace", o.CompleteNamespaces)
	cmd.AddCommand(timeline.NewCommand(o), list.NewCommand(o), stuck.NewCommand(o), watch.NewCommand(o), report.NewCommand(o), check.NewCommand(o), ui.NewCommand(o))
	cli.AddVersion(cmd)
	return cmd
}
