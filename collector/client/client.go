// Package client dials the collector the way agents and kubectl-graceline
// both need: a bearer token on every call, and TLS or mutual TLS when
// configured.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// maxMessage matches the collector's bound on one gRPC message.
const maxMessage = 16 << 20

// Options say how to reach the collector.
type Options struct {
	// Address is host:port of the collector's gRPC listener.
	Address string
	// Token is the bearer token; TokenFile, when set, is read instead, and
	// read again for every call.
	Token     string
	TokenFile string
	// Role picks the line of a collector token file ("ROLE TOKEN" lines)
	// that holds this client's token; a file with one bare token needs none.
	Role string
	// TLS turns TLS on with the system's roots; CAFile, CertFile or
	// ServerName turn it on too.
	TLS bool
	// CAFile verifies the collector's certificate.
	CAFile string
	// CertFile and KeyFile are a client certificate, for mutual TLS.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the collector's certificate.
	ServerName string
}

// AddFlags registers the connection flags shared by every client. Tokens
// are left to the caller: an agent takes a file only, a person may type one.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Address, "collector", o.Address, "collector gRPC address (host:port)")
	fs.BoolVar(&o.TLS, "collector-tls", false, "connect with TLS, verifying the collector against the system's roots")
	fs.StringVar(&o.CAFile, "collector-ca", "", "verify the collector's TLS certificate with this CA (PEM); implies --collector-tls")
	fs.StringVar(&o.CertFile, "collector-cert", "", "client certificate (PEM) for mutual TLS; implies --collector-tls")
	fs.StringVar(&o.KeyFile, "collector-key", "", "private key (PEM) of --collector-cert")
	fs.StringVar(&o.ServerName, "collector-server-name", "", "name to expect in the collector's certificate; implies --collector-tls")
}

func (o Options) useTLS() bool {
	return o.TLS || o.CAFile != "" || o.CertFile != "" || o.ServerName != ""
}

// token returns the bearer token, reading TokenFile when set. The file may
// hold the bare token, or "ROLE TOKEN" lines as the collector's own token
// file does, of which the line for o.Role is used.
func (o Options) token() (string, error) {
	if o.TokenFile == "" {
		return o.Token, nil
	}
	b, err := os.ReadFile(o.TokenFile)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	var bare []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case len(f) == 1:
			bare = append(bare, f[0])
		case len(f) == 2 && f[0] == o.Role:
			return f[1], nil
		}
	}
	if len(bare) == 1 {
		return bare[0], nil
	}
	return "", fmt.Errorf("token file %s holds no single token and no %q line", o.TokenFile, o.Role+" TOKEN")
}

func (o Options) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read collector CA: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errors.New("collector CA file holds no PEM certificate")
		}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("a client certificate needs its key, and a key its certificate")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Dial returns a connection to the collector. It connects lazily and
// reconnects by itself; calls fail fast while the collector is down. extra
// adds to the options Dial sets.
func Dial(o Options, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	if o.Address == "" {
		return nil, errors.New("no collector address given")
	}
	token, err := o.token()
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("no collector token given")
	}
	creds := insecure.NewCredentials()
	if o.useTLS() {
		tc, err := o.tlsConfig()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tc)
	}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(bearer{opts: o, secure: o.useTLS()}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
		// Notice a collector that vanished without closing the connection.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
	}, extra...)
	conn, err := grpc.NewClient(o.Address, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial collector %s: %w", o.Address, err)
	}
	return conn, nil
}

// bearer puts the token on every call. A token file is read again for each
// call: a projected ServiceAccount token is replaced by the kubelet before
// it expires, and an agent's stream, reopened after hours, must present
// the current one. A call is rare (an agent opens one stream at a time),
// and the file small.
type bearer struct {
	opts   Options
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	token, err := b.opts.token()
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("no collector token given")
	}
	return map[string]string{"authorization": "Bearer " + token}, nil
}

// RequireTransportSecurity is false without TLS so that plain connections
// (loopback, or inside a service mesh) still carry the token.
func (b bearer) RequireTransportSecurity() bool { return b.secure }
