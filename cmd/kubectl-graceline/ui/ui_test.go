package ui

import (
	"bytes"
	"strings"
	"testing"

	"github.com/graceline/graceline/cmd/kubectl-graceline/conn"
)

func TestAddress(t *testing.T) {
	cases := []struct {
		name, collector, url string
		tls                  bool
		want, wantErr        string
	}{
		{"the collector's host on the HTTP port", "graceline.example:7070", "", false, "http://graceline.example:7071/ui/", ""},
		{"HTTPS when the collector is dialled with TLS", "10.0.0.7:7070", "", true, "https://10.0.0.7:7071/ui/", ""},
		{"an IPv6 collector keeps its brackets", "[::1]:7070", "", false, "http://[::1]:7071/ui/", ""},
		{"--url is taken as the collector's HTTP address", "x:1", "https://gl.example:8443", false, "https://gl.example:8443/ui/", ""},
		{"--url may already end in /ui", "x:1", "http://127.0.0.1:7071/ui", false, "http://127.0.0.1:7071/ui/", ""},
		{"a token in a query is refused", "x:1", "http://h:7071/?token=abc", false, "", "no user, password or query"},
		{"a password in the address is refused", "x:1", "http://u:secret@h:7071", false, "", "no user, password or query"},
		{"another scheme is refused", "x:1", "ftp://h:7071", false, "", "want http[s]://host:port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := conn.NewOptions()
			o.Collector.Address, o.Collector.TLS = tc.collector, tc.tls
			got, err := address(o, tc.url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("address = %q, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("address = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCommandPrintsTheAddress(t *testing.T) {
	o := conn.NewOptions()
	o.Collector.Address = "collector.example:7070"
	cmd := NewCommand(o)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "graceline UI: http://collector.example:7071/ui/") {
		t.Errorf("output %q", out.String())
	}
}
