// Package conn holds what every kubectl-graceline subcommand shares: the
// collector connection flags, the kubeconfig namespace, and the output
// format.
package conn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/client"
	"github.com/graceline/graceline/internal/cli"
)

// Environment variables that stand in for flags.
const (
	EnvCollector = "GRACELINE_COLLECTOR"
	EnvToken     = "GRACELINE_TOKEN"
)

// Options are the global flags.
type Options struct {
	Collector client.Options
	// Kube gives the namespace of the current kubeconfig context; only the
	// kubeconfig, context and namespace flags are taken from it, since
	// the collector, not the API server, is what is dialled.
	Kube *genericclioptions.ConfigFlags
}

// NewOptions returns the options with defaults from the environment.
func NewOptions() *Options {
	kubeconfig, context, namespace := "", "", ""
	addr := os.Getenv(EnvCollector)
	if addr == "" {
		addr = "localhost:7070"
	}
	return &Options{
		Collector: client.Options{Address: addr, Role: "reader"},
		Kube:      &genericclioptions.ConfigFlags{KubeConfig: &kubeconfig, Context: &context, Namespace: &namespace},
	}
}

// AddFlags registers the global flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.Collector.AddFlags(fs)
	// The token's default is applied in Dial, so that --help never shows it.
	fs.StringVar(&o.Collector.Token, "token", "", "reader token for the collector (default $"+EnvToken+")")
	fs.StringVar(&o.Collector.TokenFile, "token-file", "", `file holding the reader token (the bare token, or a "reader TOKEN" line)`)
	o.Kube.AddFlags(fs)
}

// Dial connects to the collector.
func (o *Options) Dial() (*grpc.ClientConn, error) {
	if o.Collector.Token == "" && o.Collector.TokenFile == "" {
		o.Collector.Token = os.Getenv(EnvToken)
	}
	if o.Collector.Token == "" && o.Collector.TokenFile == "" {
		return nil, cli.Usagef("no token: give --token, --token-file or $%s (a reader token of the collector)", EnvToken)
	}
	return client.Dial(o.Collector)
}

// queryTimeout bounds one query to the collector.
const queryTimeout = 30 * time.Second

// Query dials the collector, runs one call within queryTimeout, and turns
// its error into a sentence for a person.
func (o *Options) Query(ctx context.Context, call func(context.Context, apiv1.QueryClient) error) error {
	cc, err := o.Dial()
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	if err := call(ctx, apiv1.NewQueryClient(cc)); err != nil {
		return Explain(err, o.Collector.Address)
	}
	return nil
}

// Namespace is the namespace from -n, else the kubeconfig context's, else
// "default".
func (o *Options) Namespace() string {
	if *o.Kube.Namespace != "" {
		return *o.Kube.Namespace
	}
	ns, _, err := o.Kube.ToRawKubeConfigLoader().Namespace()
	if err != nil || ns == "" {
		return "default"
	}
	return ns
}

// Output formats.
const (
	OutputTable = "table"
	OutputJSON  = "json"
)

// AddOutputFlag registers -o on a subcommand.
func AddOutputFlag(fs *pflag.FlagSet, out *string) {
	fs.StringVarP(out, "output", "o", OutputTable, `output format: "table" or "json" (JSON lines in the event contract)`)
}

// CheckOutput refuses an unknown format.
func CheckOutput(out string) error {
	return cli.OneOf("output", out, OutputTable, OutputJSON)
}

// WriteJSONLines prints events in the event contract, one per line. JSON
// escapes the C0 controls itself; what it leaves raw but a terminal may
// act on (DEL, the C1 controls) is escaped too.
func WriteJSONLines(w io.Writer, events []*apiv1.Event) error {
	bw := bufio.NewWriter(w)
	for _, e := range events {
		b, err := apiv1.MarshalJSONLine(e)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		bw.Write(cli.EscapeJSON(b))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// Explain turns a gRPC error from the collector into a sentence for a
// person: the edge where status codes become plain errors.
func Explain(err error, addr string) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unauthenticated:
		return fmt.Errorf("the collector at %s refused the token: %s", addr, st.Message())
	case codes.PermissionDenied:
		return fmt.Errorf("the collector at %s does not allow this token here (a reader token is needed): %s", addr, st.Message())
	case codes.Unavailable:
		return fmt.Errorf("cannot reach the collector at %s: %s", addr, st.Message())
	case codes.NotFound:
		return errors.New(st.Message())
	}
	return fmt.Errorf("collector at %s: %s", addr, st.Message())
}

// SplitPod parses "NS/NAME" or "NAME" (in namespace ns).
func SplitPod(arg, ns string) (namespace, name string, err error) {
	if before, after, ok := strings.Cut(arg, "/"); ok {
		namespace, name = before, after
	} else {
		namespace, name = ns, arg
	}
	if namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", cli.Usagef("pod %q: want NAMESPACE/NAME or NAME", arg)
	}
	return namespace, name, nil
}
