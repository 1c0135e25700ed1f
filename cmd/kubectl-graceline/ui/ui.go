// Package ui is `kubectl graceline ui`: it says where the collector's web
// UI is, or reaches it through a port-forward, and can open a browser on it.
package ui

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
	"github.com/graceline/graceline/internal/portforward"
)

// httpPort is the collector's default HTTP port, which serves the UI.
const httpPort = "7071"

// flags are the subcommand's own flags.
type flags struct {
	url, namespace, service string
	portForward, open       bool
	localPort               int
}

// NewCommand returns the ui subcommand.
func NewCommand(o *conn.Options) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Open the collector's web UI",
		Long: `Print the address of the collector's web UI, or reach it through a local
port-forward to the collector's Service with --port-forward (through the API
server with the kubeconfig's identity, as "kubectl port-forward" does; it
lasts until interrupted). --open also starts a
browser ($BROWSER, else xdg-open) on it.

The UI asks for a reader token once, in its own sign-in form, and keeps it in
an HttpOnly cookie; the token never goes into the address.

Without --url or --port-forward, the address is the host of --collector on
the collector's HTTP port (` + httpPort + `), over HTTPS when the collector is dialled
with TLS.`,
		Example: "  kubectl graceline ui --port-forward --open\n  kubectl graceline ui --collector graceline.example:7070",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.portForward {
				return portForward(cmd.Context(), cmd.OutOrStdout(), o, f)
			}
			u, err := address(o, f.url)
			if err != nil {
				return err
			}
			show(cmd.OutOrStdout(), u, f.open)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.url, "url", "", "the collector's HTTP address (http[s]://host:port), if not the --collector host on port "+httpPort)
	fs.BoolVar(&f.portForward, "port-forward", false, "reach the UI through a port-forward to the collector's Service, with the kubeconfig")
	fs.StringVar(&f.namespace, "collector-namespace", "graceline", "namespace of the collector's Service, for --port-forward")
	fs.StringVar(&f.service, "service", "graceline-collector", "the collector's Service, for --port-forward")
	fs.IntVar(&f.localPort, "local-port", 7071, "local port of --port-forward (0 picks a free one)")
	fs.BoolVar(&f.open, "open", false, "open a browser on the UI")
	return cmd
}

// address is the UI's URL: base (the collector's HTTP address) with /ui/,
// else derived from the collector's gRPC address.
func address(o *conn.Options, base string) (string, error) {
	if base == "" {
		host, _, err := net.SplitHostPort(o.Collector.Address)
		if err != nil {
			return "", fmt.Errorf("read collector address %q: %w", o.Collector.Address, err)
		}
		scheme := "http"
		if o.Collector.TLS || o.Collector.CAFile != "" || o.Collector.CertFile != "" || o.Collector.ServerName != "" {
			scheme = "https"
		}
		base = scheme + "://" + net.JoinHostPort(host, httpPort)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("read --url %q: want http[s]://host:port", base)
	}
	if u.User != nil || u.RawQuery != "" {
		// Credentials belong in the sign-in form, never in an address.
		return "", fmt.Errorf("read --url %q: no user, password or query in the address", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.Path = strings.TrimSuffix(u.Path, "/ui") + "/ui/"
	return u.String(), nil
}

// show prints the UI's address and, when asked, opens a browser on it.
func show(w io.Writer, u string, open bool) {
	fmt.Fprintf(w, "graceline UI: %s\nSign in with a reader token of the collector.\n", u)
	if !open {
		return
	}
	browser := os.Getenv("BROWSER")
	if browser == "" {
		browser = "xdg-open"
	}
	if err := exec.Command(browser, u).Start(); err != nil {
		fmt.Fprintf(w, "could not start a browser (%v): open the address above\n", err)
	}
}

// forwardWait bounds how long the port-forward may take to start.
const forwardWait = 30 * time.Second

// portForward forwards a local port to the collector's Service's http port
// through the API server, with the kubeconfig's identity (no kubectl binary
// needed), shows the local address, and lasts until ctx ends or the
// forward does (as when the collector's pod goes away).
func portForward(ctx context.Context, w io.Writer, o *conn.Options, f flags) error {
	cfg, err := o.Kube.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	start, cancel := context.WithTimeout(ctx, forwardWait)
	defer cancel()
	fw, err := portforward.Service(start, cfg, f.namespace, f.service, "http", f.localPort, os.Stderr)
	if err != nil {
		return fmt.Errorf("reach the UI: %w", err)
	}
	defer fw.Close()
	show(w, "http://"+fw.Address+"/ui/", f.open)
	fmt.Fprintf(w, "Forwarding to %s/%s (pod %s); interrupt to stop.\n", f.namespace, f.service, fw.Target)
	select {
	case <-ctx.Done():
		return nil
	case err := <-fw.Done():
		if err != nil {
			return fmt.Errorf("port-forward to %s: %w", fw.Target, err)
		}
		return fmt.Errorf("port-forward to %s ended", fw.Target)
	}
}
