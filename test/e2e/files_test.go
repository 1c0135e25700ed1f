package e2e

import (
	"io"
	"net/http"
	"os"
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
