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
}

func TestTokenFileAccess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if _, err := EnsureTokenFile(path); err != nil {
		t.Fatal(err)
	}
	// A group this process is not in: the highest id, which nothing uses.
	const stranger = 65534
	cases := []struct {
		name string
		mode os.FileMode
		gid  int // -1: this process's group
		ok   bool
	}{
		{"private to its owner", 0o600, -1, true},
		{"read-only to its owner", 0o400, -1, true},
		{"readable by this process's group, as a Secret with fsGroup", 0o440, -1, true},
		{"readable by another group", 0o440, stranger, false},
		{"writable by its group", 0o460, -1, false},
		{"readable by others", 0o604, -1, false},
		{"world-readable", 0o644, -1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gid := tc.gid
			if gid == -1 {
				gid = os.Getegid()
			}
			if err := os.Chown(path, -1, gid); err != nil {
				t.Skipf("cannot give the file group %d: %v", gid, err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadTokens(path)
			if (err == nil) != tc.ok {
				t.Errorf("LoadTokens with mode %v and group %d: err = %v, want ok %v", tc.mode, gid, err, tc.ok)
			}
		})
	}
}
