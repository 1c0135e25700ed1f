package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		wantErr string
	}{
		{"roles and comments are read", "# tokens\nagent aaaaaaaaaaaaaaaaaaaa\n\nreader bbbbbbbbbbbbbbbbbbbb\n", ""},
		{"an unknown role is refused", "admin aaaaaaaaaaaaaaaaaaaa\n", "unknown role"},
		{"a short token is refused", "agent short\n", "shorter than"},
		{"a line without a token is refused", "agent\n", "want \"ROLE TOKEN\""},
		{"a file without tokens is refused", "# nothing\n", "no tokens"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTokens([]byte(tc.file))
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	tok, err := ParseTokens([]byte("agent aaaaaaaaaaaaaaaaaaaa\nreader bbbbbbbbbbbbbbbbbbbb\nreader aaaaaaaaaaaaaaaaaaaa\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		token          string
		role           Role
		known, allowed bool
	}{
		{"aaaaaaaaaaaaaaaaaaaa", RoleAgent, true, true},
		{"aaaaaaaaaaaaaaaaaaaa", RoleReader, true, true},
		{"bbbbbbbbbbbbbbbbbbbb", RoleAgent, true, false},
		{"cccccccccccccccccccc", RoleReader, false, false},
		{"", RoleReader, false, false},
	}
	for _, tc := range cases {
		if known, allowed := tok.Has(tc.token, tc.role); known != tc.known || allowed != tc.allowed {
			t.Errorf("Has(%q, %s) = %v %v, want %v %v", tc.token, tc.role, known, allowed, tc.known, tc.allowed)
		}
	}
}

func TestGeneratedTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	created, err := EnsureTokenFile(path)
	if err != nil || !created {
		t.Fatalf("EnsureTokenFile = %v, %v", created, err)
	}
	if created, _ := EnsureTokenFile(path); created {
		t.Error("an existing token file was replaced")
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := LoadTokens(path); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadTokens(path); err == nil {
		t.Error("a world-readable token file was accepted")
	}
}
