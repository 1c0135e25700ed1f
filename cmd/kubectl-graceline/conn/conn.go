// Package conn holds what every kubectl-graceline subcommand shares: the
// kubeconfig flags and namespace, the choice between the API server and a
// collector, and the output format.
package conn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/kube"
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
	// Kube are kubectl's flags: the kubeconfig, the context, the
	// namespace, and the overrides of the user and the server. Without a
	// collector, queries go through the API server they give.
	Kube *genericclioptions.ConfigFlags
	// envCollector is $GRACELINE_COLLECTOR, which picks the collector as
	// --collector does.
	envCollector string
	// collectorSet says --collector was given.
	collectorSet func() bool
}

// NewOptions returns the options with defaults from the environment.
func NewOptions() *Options {
	env := os.Getenv(EnvCollector)
	addr := env
	if addr == "" {
		addr = "localhost:7070"
	}
	kube := genericclioptions.NewConfigFlags(true)
	// --token is the collector's reader token; a bearer token for the API
	// server comes from the kubeconfig.
	kube.BearerToken = nil
	return &Options{
		Collector:    client.Options{Address: addr, Role: "reader"},
		Kube:         kube,
		envCollector: env,
		collectorSet: func() bool { return false },
	}
}

// AddFlags registers the global flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.Collector.AddFlags(fs)
	// The token's default is applied in Dial, so that --help never shows it.
	fs.StringVar(&o.Collector.Token, "token", "", "reader token for the collector (default $"+EnvToken+")")
	fs.StringVar(&o.Collector.TokenFile, "token-file", "", `file holding the reader token (the bare token, or a "reader TOKEN" line)`)
	o.Kube.AddFlags(fs)
	o.collectorSet = func() bool { return fs.Changed("collector") }
}

// Collecting tells whether queries go to a collector directly (--collector
// or $GRACELINE_COLLECTOR) rather than through the API server.
func (o *Options) Collecting() bool { return o.collectorSet() || o.envCollector != "" }

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

// KubeClient returns a client of the aggregated API through the API server
// of the kubeconfig's context, as the user. A kubeconfig that cannot be
// read, or a context it lacks, is an error.
func (o *Options) KubeClient() (*kube.Client, error) {
	if err := o.checkContext(); err != nil {
		return nil, err
	}
	// clientcmd falls back to localhost:8080 without a kubeconfig, which
	// would only confuse: say what is missing instead.
	raw, err := o.Kube.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, fmt.Errorf("read the kubeconfig: %w", err)
	}
	if clientcmdapi.IsConfigEmpty(&raw) && *o.Kube.APIServer == "" && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return nil, fmt.Errorf("no kubeconfig found (%s): give --kubeconfig or $KUBECONFIG, or --collector to ask a collector directly",
			strings.Join(o.Kube.ToRawKubeConfigLoader().ConfigAccess().GetLoadingPrecedence(), ":"))
	}
	cfg, err := o.Kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("read the kubeconfig: %w", err)
	}
	return kube.New(cfg)
}

// queryTimeout bounds one query.
const queryTimeout = 30 * time.Second

// Query runs one call within queryTimeout against the collector when one
// is given, else through the API server, and turns its error into a
// sentence for a person.
func (o *Options) Query(ctx context.Context, call func(context.Context, Source) error) error {
	var src Source
	if o.Collecting() {
		// A collector is asked whatever the kubeconfig says, but a
		// kubeconfig or context named and unusable is still an error.
		if _, err := o.Namespace(); err != nil {
			return err
		}
		cc, err := o.Dial()
		if err != nil {
			return err
		}
		defer cc.Close()
		src = collectorSource{q: apiv1.NewQueryClient(cc), addr: o.Collector.Address}
	} else {
		c, err := o.KubeClient()
		if err != nil {
			return err
		}
		src = apiSource{c: c}
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	return call(ctx, src)
}

// Namespace is the namespace from -n, else the kubeconfig context's, else
// "default". A kubeconfig or context given but unusable is an error, even
// with -n: a query must never go quietly to another cluster than the one
// named. Only a missing kubeconfig, none given, means "default", for a
// collector outside any cluster.
func (o *Options) Namespace() (string, error) {
	if err := o.checkContext(); err != nil {
		return "", err
	}
	explicit := *o.Kube.KubeConfig != "" || *o.Kube.Context != ""
	if *o.Kube.Namespace != "" && !explicit {
		return *o.Kube.Namespace, nil
	}
	ns, _, err := o.Kube.ToRawKubeConfigLoader().Namespace()
	switch {
	case err != nil && clientcmd.IsEmptyConfig(err) && !explicit:
		ns = ""
	case err != nil:
		return "", fmt.Errorf("read the kubeconfig: %w", err)
	}
	if *o.Kube.Namespace != "" {
		return *o.Kube.Namespace, nil
	}
	if ns == "" {
		return "default", nil
	}
	return ns, nil
}

// checkContext refuses a --context that the kubeconfig lacks, naming it
// and the kubeconfig's contexts, before clientcmd's terser error would.
func (o *Options) checkContext() error {
	name := *o.Kube.Context
	if name == "" {
		return nil
	}
	loader := o.Kube.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		return fmt.Errorf("read the kubeconfig: %w", err)
	}
	if _, ok := raw.Contexts[name]; ok {
		return nil
	}
	var known []string
	for n := range raw.Contexts {
		known = append(known, n)
	}
	sort.Strings(known)
	return fmt.Errorf("context %q is not in the kubeconfig %s (it has: %s)", name, strings.Join(loader.ConfigAccess().GetLoadingPrecedence(), ":"), strings.Join(known, ", "))
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

// WriteJSONLines prints events in the event contract, one per line.
func WriteJSONLines(w io.Writer, events []*apiv1.Event) error {
	return WriteJSONMessages(w, events)
}

// WriteJSONMessages prints messages of the schema (events, workload
// reports, container checks) in its JSON form, one per line. JSON escapes
// the C0 controls itself; what it leaves raw but a terminal may act on
// (DEL, the C1 controls) is escaped too.
func WriteJSONMessages[M proto.Message](w io.Writer, msgs []M) error {
	bw := bufio.NewWriter(w)
	for _, m := range msgs {
		b, err := apiv1.MarshalJSONMessage(m)
		if err != nil {
			return fmt.Errorf("encode %s: %w", m.ProtoReflect().Descriptor().Name(), err)
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
