package e2e

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// problems returns the runtime's log lines at path that report errors,
// then those that warn, at most 40: the tail alone often shows only the
// clean-up that followed them.
func problems(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	var out []string
	for _, level := range []string{"level=error", "level=warning"} {
		for _, line := range lines {
			if len(out) == 40 {
				break
			}
			if strings.Contains(line, level) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}

func httpGet(url string) (*http.Response, error) {
	c := http.Client{Timeout: 5 * time.Second}
	return c.Get(url)
}

func httpBody(t testing.TB, url string) string {
	t.Helper()
	resp, err := httpGet(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
