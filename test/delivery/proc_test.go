package delivery

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graceline/graceline/test/harness"
	_ "modernc.org/sqlite"
)

// proc is a running child process whose output is kept for failures.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *harness.Buffer
	done chan struct{}
	err  error
}

// start runs bin with args. At the end of the test a process still running
// is stopped with SIGTERM and must exit cleanly; its output is shown when the
// test failed.
func start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: &harness.Buffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.stop(t)
		}
		if t.Failed() {
			t.Logf("%s output (tail):\n%s", name, tail(p.out.String(), 4000))
		}
	})
	return p
}

// kill ends the process with SIGKILL, as a crash would.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop ends the process with SIGTERM and checks that it exits cleanly.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not exit within 20s of SIGTERM", p.name)
		return
	}
	if p.err != nil {
		t.Errorf("%s exited with %v after SIGTERM", p.name, p.err)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Tokens the tests' collectors accept.
const (
	agentToken  = "agent-token-of-the-delivery-tests"
	readerToken = "reader-token-of-the-delivery-tests"
)

// collector is a graceline-collector process and where it serves.
type collector struct {
	dir, grpc, http string
	tokens          string
	args            []string
	p               *proc
	// web reaches the HTTP listener: https with the test CA when the
	// collector serves TLS.
	web    *http.Client
	scheme string
}

// newCollector starts a collector in a new data directory, serving TLS with
// certs when they are given.
func newCollector(t *testing.T, certs *certFiles, flags ...string) *collector {
	t.Helper()
	c := &collector{dir: t.TempDir(), grpc: freeAddr(t), http: freeAddr(t), web: &http.Client{Timeout: 5 * time.Second}, scheme: "http"}
	var extra []string
	if certs != nil {
		extra = []string{"--tls-cert", certs.serverCert, "--tls-key", certs.serverKey, "--tls-client-ca", certs.ca}
		c.web.Transport, c.scheme = &http.Transport{TLSClientConfig: certs.clientTLS(t, false)}, "https"
	}
	c.tokens = filepath.Join(c.dir, "tokens")
	if err := os.WriteFile(c.tokens, []byte(fmt.Sprintf("agent %s\nreader %s\n", agentToken, readerToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	c.args = append([]string{"--data-dir", filepath.Join(c.dir, "data"), "--grpc-address", c.grpc, "--http-address", c.http,
		"--token-file", c.tokens}, append(extra, flags...)...)
	c.start(t)
	return c
}

func (c *collector) start(t *testing.T) {
	t.Helper()
	c.p = start(t, "graceline-collector", collectorBin, c.args...)
	waitFor(t, 20*time.Second, "collector ready", func() bool {
		resp, err := c.web.Get(c.url("/readyz"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (c *collector) url(path string) string { return c.scheme + "://" + c.http + path }

func (c *collector) db() string { return filepath.Join(c.dir, "data", "graceline.db") }

// metrics returns the collector's /metrics page.
func (c *collector) metrics(t *testing.T) string {
	t.Helper()
	resp, err := c.web.Get(c.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// storeReader reads the collector's database directly, beside the
// collector, as SQLite's WAL mode allows.
type storeReader struct{ db *sql.DB }

func openStore(t *testing.T, path string) *storeReader {
	t.Helper()
	waitFor(t, 10*time.Second, "database file", func() bool { _, err := os.Stat(path); return err == nil })
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &storeReader{db: db}
}

func (s *storeReader) count(t *testing.T) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(), "SELECT count(*) FROM events").Scan(&n); err != nil {
		// The schema may not exist yet right after the first start.
		if strings.Contains(err.Error(), "no such table") {
			return 0
		}
		t.Fatal(err)
	}
	return n
}

// waitCount waits until the store holds want events. It gives up when the
// count stops growing for a while: lost events never arrive, and waiting
// longer only hides that.
func (s *storeReader) waitCount(t *testing.T, want int) {
	t.Helper()
	last, since := -1, time.Now()
	for {
		n := s.count(t)
		if n >= want {
			return
		}
		if n != last {
			last, since = n, time.Now()
		}
		if time.Since(since) > 30*time.Second {
			t.Fatalf("the store holds %d events and has not grown for 30s; want %d", n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkExactlyOnce asserts that the store holds load events 0..total-1,
// each exactly once, and nothing else.
func (s *storeReader) checkExactlyOnce(t *testing.T, total int) {
	t.Helper()
	var rows, distinct, lo, hi int
	err := s.db.QueryRow(`SELECT count(*), count(DISTINCT uid), min(uid), max(uid) FROM (
		SELECT CAST(substr(uid, 5) AS INTEGER) AS uid FROM events WHERE kind = 'container_started')`).Scan(&rows, &distinct, &lo, &hi)
	if err != nil {
		t.Fatal(err)
	}
	var all int
	s.db.QueryRow("SELECT count(*) FROM events").Scan(&all)
	if rows != total || distinct != total || lo != 0 || hi != total-1 || all != total {
		t.Errorf("store holds %d events (%d load events, %d distinct, indexes %d..%d); want each of 0..%d exactly once",
			all, rows, distinct, lo, hi, total-1)
	}
}
