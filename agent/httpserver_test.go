package agent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestHTTPServerHoldsNoIdleClient opens connections to a real agent HTTP
// server that misbehave as a careless or hostile client would, and checks
// that the server closes each one after its timeout instead of holding it.
// The client waits up to patience for that, far longer than the timeouts,
// so that a slow machine does not fail the test but a server that holds
// connections forever does.
func TestHTTPServerHoldsNoIdleClient(t *testing.T) {
	const patience = 10 * time.Second
	cases := []struct {
		name string
		// send writes to the connection; the server must then close it.
		send func(t *testing.T, c net.Conn)
		// wantStatus is the status the server answers first, or "" for
		// none.
		wantStatus string
	}{
		{
			name: "a client that sends nothing is closed",
			send: func(*testing.T, net.Conn) {},
		},
		{
			name: "a client that never finishes its headers is closed",
			send: func(t *testing.T, c net.Conn) {
				write(t, c, "GET /healthz HTTP/1.1\r\nHost: agent\r\nX-Slow: ")
			},
		},
		{
			name: "a request that announces a body and never sends it is closed",
			send: func(t *testing.T, c net.Conn) {
				write(t, c, "POST /healthz HTTP/1.1\r\nHost: agent\r\nContent-Length: 100000\r\n\r\npart")
			},
			wantStatus: "200",
		},
		{
			name: "an idle keep-alive connection is closed",
			send: func(t *testing.T, c net.Conn) {
				write(t, c, "GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n")
			},
			wantStatus: "200",
		},
		{
			name: "headers past the limit are refused",
			send: func(t *testing.T, c net.Conn) {
				write(t, c, "GET /healthz HTTP/1.1\r\nHost: agent\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
			},
			wantStatus: "431",
		},
	}
	limits := httpLimits{
		ReadHeaderTimeout: 100 * time.Millisecond,
		ReadTimeout:       200 * time.Millisecond,
		WriteTimeout:      time.Second,
		IdleTimeout:       200 * time.Millisecond,
		MaxHeaderBytes:    1 << 10,
		MaxConns:          16,
	}
	addr := startHTTP(t, limits)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc.send(t, c)
			c.SetReadDeadline(time.Now().Add(patience))
			got, err := io.ReadAll(c)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("server still holds the connection after %s (read %q)", patience, got)
			}
			status := ""
			if f := strings.Fields(string(got)); len(f) > 1 {
				status = f[1]
			}
			if status != tc.wantStatus {
				t.Errorf("server answered %q, want status %q", got, tc.wantStatus)
			}
		})
	}
}

// TestHTTPServerCapsConnections fills the server's connection cap with
// silent clients and checks that a further request is served only once one
// of them is gone.
func TestHTTPServerCapsConnections(t *testing.T) {
	const held = 2
	addr := startHTTP(t, httpLimits{
		ReadHeaderTimeout: time.Minute, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: time.Minute,
		MaxHeaderBytes: 1 << 10, MaxConns: held,
	})
	var silent []net.Conn
	for range held {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	write(t, c, "GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n")
	// The kernel accepted the connection, but the server takes it on only
	// below its cap: nothing comes back while the silent clients hold it.
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	r := bufio.NewReader(c)
	if _, err := r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("request past the cap of %d connections answered (err %v)", held, err)
	}
	silent[0].Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("request not served once a connection closed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func startHTTP(t *testing.T, limits httpLimits) string {
	t.Helper()
	return startHTTPWith(t, false, limits)
}

// startHTTPWith starts the agent's HTTP server on a free port, with or
// without the profiles, and stops it when the test ends.
func startHTTPWith(t *testing.T, withPprof bool, limits httpLimits) string {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, addr, err := serveMetrics("127.0.0.1:0", prometheus.NewRegistry(), func() error { return nil }, withPprof, limits, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return addr.String()
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// TestPprofOnlyWhenEnabled checks that the profiles are served on the
// metrics address with --pprof, and are not there at all without it.
func TestPprofOnlyWhenEnabled(t *testing.T) {
	cases := []struct {
		name       string
		pprof      bool
		path       string
		wantStatus int
	}{
		{"with the flag the profile index answers", true, "/debug/pprof/", http.StatusOK},
		{"with the flag a short CPU profile is taken", true, "/debug/pprof/profile?seconds=1", http.StatusOK},
		{"with the flag a heap profile is taken", true, "/debug/pprof/heap", http.StatusOK},
		{"without the flag there is no profile index", false, "/debug/pprof/", http.StatusNotFound},
		{"without the flag there is no CPU profile", false, "/debug/pprof/profile?seconds=1", http.StatusNotFound},
		{"without the flag the metrics are still served", false, "/metrics", http.StatusOK},
	}
	addrs := map[bool]string{
		false: startHTTPWith(t, false, defaultHTTPLimits()),
		true:  startHTTPWith(t, true, defaultHTTPLimits()),
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get("http://" + addrs[tc.pprof] + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("GET %s: status %d, want %d", tc.path, resp.StatusCode, tc.wantStatus)
			}
		})
	}
}
