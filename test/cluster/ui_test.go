package cluster_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// checkUIThroughPortForward runs `kubectl graceline ui --port-forward
// --open` as a user with only a kubeconfig does: it must forward to the
// in-cluster collector's Service through the API server (no kubectl binary
// is on this machine), print the local address and hand it to $BROWSER.
// Then, as the browser would, it signs in with the reader token through the
// form and reads the deleted pods' terminations in namespace ns with the
// cookie. A wrong context must be an error, not a forward to some cluster.
func checkUIThroughPortForward(t *testing.T, readerToken, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	opened := filepath.Join(dir, "opened")
	browser := filepath.Join(dir, "browser")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\nprintf '%s\\n' \"$1\" > "+opened+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	wrong := exec.CommandContext(ctx, cliBin, "ui", "--port-forward", "--kubeconfig", testCluster.Kubeconfig, "--context", "no-such-context")
	if out, err := wrong.CombinedOutput(); err == nil || !strings.Contains(string(out), "no-such-context") {
		t.Errorf("ui --port-forward --context no-such-context: %v, %q; want an error naming the context", err, out)
	}

	cmd := exec.CommandContext(ctx, cliBin, "ui", "--port-forward", "--open", "--local-port", "0",
		"--kubeconfig", testCluster.Kubeconfig, "--collector-namespace", installNamespace)
	cmd.Env = append(os.Environ(), "BROWSER="+browser, "GRACELINE_COLLECTOR=", "PATH=/usr/bin:/bin")
	cmd.Stderr = testLogWriter{t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	var address string
	for address == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl graceline ui exited before it printed the UI's address: %v", <-exited)
			}
			t.Logf("kubectl graceline ui: %s", line)
			address, _ = strings.CutPrefix(line, "graceline UI: ")
		case <-ctx.Done():
			t.Fatal("kubectl graceline ui printed no address in 2 minutes")
		}
	}
	go func() {
		for line := range lines {
			t.Logf("kubectl graceline ui: %s", line)
		}
	}()
	if !strings.HasPrefix(address, "http://127.0.0.1:") || !strings.HasSuffix(address, "/ui/") {
		t.Fatalf("UI address %q, want http://127.0.0.1:PORT/ui/", address)
	}
	for {
		b, _ := os.ReadFile(opened)
		if strings.TrimSpace(string(b)) == address {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("$BROWSER was not started on %s (it got %q)", address, b)
		}
		time.Sleep(100 * time.Millisecond)
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	page := get(t, c, address)
	if !strings.Contains(page.body, "<html") || page.header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET %s: want the UI's page with a Content-Security-Policy, got %s\n%.300s", address, page.header, page.body)
	}
	list := address + "api/v1/terminations?namespace=" + url.QueryEscape(ns)
	if r := get(t, c, list); r.status != http.StatusUnauthorized {
		t.Errorf("GET %s before signing in: %d, want 401", list, r.status)
	}
	resp, err := c.PostForm(address+"login", url.Values{"token": {readerToken}})
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	resp.Body.Close()
	r := get(t, c, list)
	for _, d := range installedDeletions {
		if r.status != http.StatusOK || !strings.Contains(r.body, `"`+d.name+`"`) {
			t.Errorf("GET %s after signing in: %d, want pod %s in:\n%.2000s", list, r.status, d.name, r.body)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("kubectl graceline ui after an interrupt: %v, want a clean exit", err)
		}
	case <-ctx.Done():
		t.Error("kubectl graceline ui did not stop on an interrupt")
	}
}

// response is what get read.
type response struct {
	status int
	header http.Header
	body   string
}

// get reads u with c.
func get(t *testing.T, c *http.Client, u string) response {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", u, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}
