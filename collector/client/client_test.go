package client

import (
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
