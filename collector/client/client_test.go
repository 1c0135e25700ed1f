package client

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestTokenFile(t *testing.T) {
	cases := []struct {
		name, file, role, want string
	}{
		{"a bare token is used as it is", "s3cr3t-token\n", "agent", "s3cr3t-token"},
		{"a collector token file gives the line of the role", "# tokens\nagent a-token\nreader r-token\n", "reader", "r-token"},
		{"a file without the role's line gives nothing", "agent a-token\n", "reader", ""},
		{"two bare tokens are ambiguous", "one\ntwo\n", "agent", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := Options{TokenFile: path, Role: tc.role}.token()
			if got != tc.want || (err != nil) != (tc.want == "") {
				t.Errorf("token() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestTokenFileIsReadForEveryCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	b := bearer{opts: Options{TokenFile: path, Role: "agent"}}
	for _, token := range []string{"first-projected-token", "rotated-projected-token"} {
		// The kubelet replaces a projected token's file before it expires.
		if err := os.WriteFile(path, []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		md, err := b.GetRequestMetadata(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := md["authorization"], "Bearer "+token; got != want {
			t.Errorf("authorization %q, want %q", got, want)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetRequestMetadata(context.Background()); err == nil {
		t.Error("a call went out with a token whose file is gone")
	}
}
