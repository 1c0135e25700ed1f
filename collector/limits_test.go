package collector

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/connectivity"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/client"
)

const (
	testAgentToken  = "agent-token-of-the-limits-tests"
	testReaderToken = "reader-token-of-the-limits-tests"
)

// running is a collector run in-process with Run, on loopback.
type running struct {
	grpc, http string
	logs       *bytes.Buffer
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runLimited runs a collector until the test ends, with times shortening
// the connection timeouts where it is not zero.
func runLimited(t *testing.T, times connTimes) running {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(fmt.Sprintf("agent %s\nreader %s\n", testAgentToken, testReaderToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	if times == (connTimes{}) {
		times = defaultConnTimes
	}
	r := running{grpc: freePort(t), http: freePort(t), logs: &bytes.Buffer{}}
	cfg := Config{DataDir: filepath.Join(dir, "data"), GRPCAddress: r.grpc, HTTPAddress: r.http, TokenFile: tokens, times: times}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + r.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawHTTP writes req on a new connection and returns what the server
// answers until it closes the connection, or until within has passed.
func rawHTTP(t *testing.T, addr, req string, within time.Duration) (answer string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	// A reset is a close too: the server had unread bytes of ours.
	return string(b), err == nil || errors.Is(err, syscall.ECONNRESET)
}

func TestHTTPConnectionsAreBounded(t *testing.T) {
	times := defaultConnTimes
	times.httpHeader, times.httpIdle = time.Second, time.Second
	r := runLimited(t, times)
	tests := []struct {
		name       string
		req        string
		wantStatus string // empty: no answer at all
	}{
		{"a request that announces a body and never sends it is refused at once",
			"GET /api/v1/terminations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", "413"},
		{"a web UI login form over 4 KiB is refused at once",
			"POST /ui/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", "413"},
		{"a request that never finishes its headers is cut off",
			"GET /api/v1/terminations HTTP/1.1\r\nHost: x\r\nX-Slow: ", ""},
		{"a keep-alive connection is closed when idle",
			"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
		{"headers over the limit are refused",
			"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", "431"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Well below the 30 s read timeout: each closes for its own
			// reason, not because the whole request took too long.
			answer, closed := rawHTTP(t, r.http, tt.req, 10*time.Second)
			if !closed {
				t.Fatalf("connection still open after 10 s; got %q", answer)
			}
			var status string
			if f := strings.Fields(answer); len(f) > 1 {
				status = f[1]
			}
			if status != tt.wantStatus {
				t.Errorf("status %q, want %q; answer %q", status, tt.wantStatus, answer)
			}
		})
	}
}

func TestIdleGRPCConnectionsAreClosed(t *testing.T) {
	times := defaultConnTimes
	times.grpcIdle = time.Second
	r := runLimited(t, times)
	cc, err := client.Dial(client.Options{Address: r.grpc, Token: testReaderToken})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := apiv1.NewQueryClient(cc).List(context.Background(), &apiv1.ListRequest{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for s := cc.GetState(); s != connectivity.Idle; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			t.Fatalf("connection still %s 20 s after its last call; the server's idle limit is 1 s", s)
		}
	}
}

// TestAWatchOutlivesTheWriteTimeout checks that the HTTP write timeout,
// which bounds every other answer, does not end a watch: the API's, nor
// the web UI's, reached with the cookie its login form sets.
func TestAWatchOutlivesTheWriteTimeout(t *testing.T) {
	times := defaultConnTimes
	times.httpRead, times.httpWrite = time.Second, time.Second
	r := runLimited(t, times)
	cases := []struct {
		name string
		path string
		auth func(t *testing.T, req *http.Request)
	}{
		{"the API's watch with a bearer token", "/api/v1/watch", func(_ *testing.T, req *http.Request) {
			req.Header.Set("Authorization", "Bearer "+testReaderToken)
		}},
		{"the web UI's watch with the cookie of its login form", "/ui/api/v1/watch", func(t *testing.T, req *http.Request) {
			noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := noRedirect.PostForm("http://"+r.http+"/ui/login", url.Values{"token": {testReaderToken}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(resp.Cookies()) != 1 {
				t.Fatalf("login: %s, cookies %v", resp.Status, resp.Cookies())
			}
			req.AddCookie(resp.Cookies()[0])
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://"+r.http+tc.path, nil)
			tc.auth(t, req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("watch: %s", resp.Status)
			}
			time.Sleep(3 * time.Second) // three write timeouts and three read timeouts
			cc, err := client.Dial(client.Options{Address: r.grpc, Token: testAgentToken})
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			s, err := apiv1.NewIngestClient(cc).Stream(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			seq := uint64(i + 1)
			body, _ := proto.Marshal(&apiv1.Event{Kind: apiv1.KindContainerStarted, Node: "n1", Time: timestamppb.Now(),
				Pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: fmt.Sprintf("u%d", seq)}})
			if err := s.Send(&apiv1.Batch{Id: 1, Records: []*apiv1.Record{{Key: &apiv1.DeliveryKey{Node: "n1", Epoch: 1, Seq: seq}, Event: body}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || !strings.Contains(line, apiv1.KindContainerStarted) {
				t.Fatalf("watch line %q, err %v: the watch did not outlive the write timeout", line, err)
			}
		})
	}
}
