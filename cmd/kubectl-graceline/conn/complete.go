package conn

import (
	"context"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// completeLimit bounds how many terminations a completion reads: the
// collector's largest page.
const completeLimit = 1000

// CompletePods completes a command's one POD argument (NAME, or
// NAMESPACE/NAME once a slash is typed) with the names of the pods that
// have terminations, from the same source as the command's queries: the
// pods worth asking about are the deleted ones, which no pod list has.
// Shells reach it through cobra's __complete, which kubectl calls through
// the kubectl_complete-graceline executable.
func (o *Options) CompletePods(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ns, prefix := "", ""
	if before, _, ok := strings.Cut(toComplete, "/"); ok {
		ns, prefix = before, before+"/"
	} else {
		var err error
		if ns, err = o.Namespace(); err != nil {
			cobra.CompErrorln(err.Error())
			return nil, cobra.ShellCompDirectiveError
		}
	}
	var names []string
	err := o.Query(completionContext(cmd), func(ctx context.Context, s Source) error {
		resp, err := s.List(ctx, &apiv1.ListRequest{Namespace: ns, Limit: completeLimit})
		for _, e := range resp.GetTerminations() {
			if name := prefix + e.GetPod().GetName(); strings.HasPrefix(name, toComplete) {
				names = append(names, name)
			}
		}
		return err
	})
	if err != nil {
		cobra.CompErrorln(err.Error())
		return nil, cobra.ShellCompDirectiveError
	}
	slices.Sort(names)
	return slices.Compact(names), cobra.ShellCompDirectiveNoFileComp
}

// CompleteNamespaces completes -n: the API server's namespaces, as kubectl
// completes them, or with a collector the namespaces it has terminations
// of.
func (o *Options) CompleteNamespaces(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var names []string
	keep := func(ns string) {
		if strings.HasPrefix(ns, toComplete) {
			names = append(names, ns)
		}
	}
	var err error
	if o.Collecting() {
		err = o.Query(completionContext(cmd), func(ctx context.Context, s Source) error {
			resp, err := s.List(ctx, &apiv1.ListRequest{Limit: completeLimit})
			for _, e := range resp.GetTerminations() {
				keep(e.GetPod().GetNamespace())
			}
			return err
		})
	} else {
		err = o.listNamespaces(completionContext(cmd), keep)
	}
	if err != nil {
		cobra.CompErrorln(err.Error())
		return nil, cobra.ShellCompDirectiveError
	}
	slices.Sort(names)
	return slices.Compact(names), cobra.ShellCompDirectiveNoFileComp
}

func (o *Options) listNamespaces(ctx context.Context, keep func(string)) error {
	if err := o.checkContext(); err != nil {
		return err
	}
	cfg, err := o.Kube.ToRESTConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, ns := range list.Items {
		keep(ns.Name)
	}
	return nil
}

func completionContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
