package delivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/client"
)

// call makes one ingest or query call and returns its error.
type call func(ctx context.Context, cc *grpc.ClientConn) error

func ingestCall(ctx context.Context, cc *grpc.ClientConn) error {
	s, err := apiv1.NewIngestClient(cc).Stream(ctx)
	if err != nil {
		return err
	}
	if err := s.Send(&apiv1.Batch{Id: 1}); err != nil {
		_, err = s.Recv() // the status is in Recv
		return err
	}
	_, err = s.Recv()
	return err
}

func queryCall(ctx context.Context, cc *grpc.ClientConn) error {
	_, err := apiv1.NewQueryClient(cc).List(ctx, &apiv1.ListRequest{})
	return err
}

// dial connects with token, or with no token at all when it is empty.
func dial(t *testing.T, addr, token string) *grpc.ClientConn {
	t.Helper()
	var cc *grpc.ClientConn
	var err error
	if token == "" {
		cc, err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	} else {
		cc, err = client.Dial(client.Options{Address: addr, Token: token})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func TestAuthentication(t *testing.T) {
	c := newCollector(t, nil)
	cases := []struct {
		name      string
		api       string
		call      call
		token     string
		wantCode  codes.Code
		wantMsg   string
		wantCount string // the refusal metric that must grow
	}{
		{"ingest without a token is refused", "ingest", ingestCall, "", codes.Unauthenticated, "missing bearer token", `api="ingest",reason="missing_token"`},
		{"ingest with a wrong token is refused", "ingest", ingestCall, "wrong-token-wrong-token", codes.Unauthenticated, "invalid bearer token", `api="ingest",reason="invalid_token"`},
		{"ingest with a reader token is refused", "ingest", ingestCall, readerToken, codes.PermissionDenied, "needs a token of role agent", `api="ingest",reason="wrong_role"`},
		{"ingest with the agent token is served", "ingest", ingestCall, agentToken, codes.OK, "", ""},
		{"query without a token is refused", "query", queryCall, "", codes.Unauthenticated, "missing bearer token", `api="query",reason="missing_token"`},
		{"query with a wrong token is refused", "query", queryCall, "wrong-token-wrong-token", codes.Unauthenticated, "invalid bearer token", `api="query",reason="invalid_token"`},
		{"query with an agent token is refused", "query", queryCall, agentToken, codes.PermissionDenied, "needs a token of role reader", `api="query",reason="wrong_role"`},
		{"query with the reader token is served", "query", queryCall, readerToken, codes.OK, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := refusals(t, c, tc.wantCount)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := tc.call(ctx, dial(t, c.grpc, tc.token))
			if tc.wantCode == codes.OK {
				// An empty batch is acknowledged; an ack stream ends with EOF
				// only when closed, so a deadline here would also be wrong.
				if err != nil && status.Code(err) != codes.OK {
					t.Fatalf("call refused: %v", err)
				}
				return
			}
			if status.Code(err) != tc.wantCode || !strings.Contains(status.Convert(err).Message(), tc.wantMsg) {
				t.Fatalf("err = %v, want %s mentioning %q", err, tc.wantCode, tc.wantMsg)
			}
			if after := refusals(t, c, tc.wantCount); after != before+1 {
				t.Errorf("refusal metric {%s} went from %v to %v, want +1", tc.wantCount, before, after)
			}
		})
	}
	t.Run("HTTP queries need the reader token", func(t *testing.T) {
		for token, want := range map[string]int{"": 401, "wrong-token-wrong-token": 401, agentToken: 403, readerToken: 200} {
			req, _ := http.NewRequest("GET", c.url("/api/v1/terminations"), nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := c.web.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("token %q: status %d, want %d", token, resp.StatusCode, want)
			}
		}
	})
}

// refusals reads one series of the refusal metric; "" reads nothing.
func refusals(t *testing.T, c *collector, labels string) float64 {
	t.Helper()
	if labels == "" {
		return 0
	}
	prefix := "graceline_collector_auth_refused_total{" + labels + "} "
	for _, line := range strings.Split(c.metrics(t), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	t.Fatalf("metric %s missing", prefix)
	return 0
}

func TestMutualTLS(t *testing.T) {
	certs := makeCerts(t)
	c := newCollector(t, &certs)
	cases := []struct {
		name    string
		opts    client.Options
		wantErr string
	}{
		{"a client without TLS cannot talk to it", client.Options{Token: readerToken}, "Unavailable"},
		{"a TLS client without a certificate is refused", client.Options{Token: readerToken, CAFile: certs.ca}, "Unavailable"},
		{"a client with a certificate but no valid token is refused", client.Options{Token: "wrong-token-wrong-token", CAFile: certs.ca, CertFile: certs.clientCert, KeyFile: certs.clientKey}, "Unauthenticated"},
		{"a client with a certificate and the reader token is served", client.Options{Token: readerToken, CAFile: certs.ca, CertFile: certs.clientCert, KeyFile: certs.clientKey}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Address = c.grpc
			cc, err := client.Dial(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = queryCall(ctx, cc)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && status.Code(err).String() != tc.wantErr:
				t.Fatalf("err = %v, want %s", err, tc.wantErr)
			}
		})
	}
	t.Run("over HTTPS, probes need no certificate but the API does", func(t *testing.T) {
		noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: certs.clientTLS(t, false)}}
		withCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: certs.clientTLS(t, true)}}
		for _, tc := range []struct {
			client *http.Client
			path   string
			want   int
		}{
			{noCert, "/readyz", 200},
			{noCert, "/api/v1/terminations", 401},
			{withCert, "/api/v1/terminations", 200},
		} {
			req, _ := http.NewRequest("GET", c.url(tc.path), nil)
			req.Header.Set("Authorization", "Bearer "+readerToken)
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s: status %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
		}
	})
}

type certFiles struct{ ca, serverCert, serverKey, clientCert, clientKey string }

// clientTLS trusts the test CA and, with withCert, presents the client
// certificate.
func (c certFiles) clientTLS(t *testing.T, withCert bool) *tls.Config {
	t.Helper()
	pemCA, err := os.ReadFile(c.ca)
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{RootCAs: x509.NewCertPool()}
	tc.RootCAs.AppendCertsFromPEM(pemCA)
	if withCert {
		cert, err := tls.LoadX509KeyPair(c.clientCert, c.clientKey)
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc
}

// makeCerts writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA.
func makeCerts(t *testing.T) certFiles {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "graceline test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	files := certFiles{ca: filepath.Join(dir, "ca.pem")}
	writePEM(t, files.ca, "CERTIFICATE", caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage, ips []net.IP, certPath, keyPath string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: fmt.Sprintf("graceline test %d", serial)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		writePEM(t, certPath, "CERTIFICATE", der)
		writePEM(t, keyPath, "EC PRIVATE KEY", kb)
	}
	files.serverCert, files.serverKey = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	files.clientCert, files.clientKey = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	issue(2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")}, files.serverCert, files.serverKey)
	issue(3, x509.ExtKeyUsageClientAuth, nil, files.clientCert, files.clientKey)
	return files
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
