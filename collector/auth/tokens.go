// Package auth checks the bearer tokens that agents and readers present to
// the collector. Agents may only send events and readers may only query;
// every refusal is counted by reason.
package auth

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
)

// Role is what a token allows.
type Role string

// The roles.
const (
	// RoleAgent may stream events into the collector.
	RoleAgent Role = "agent"
	// RoleReader may query and watch.
	RoleReader Role = "reader"
)

// minTokenLength keeps guessable tokens out of token files.
const minTokenLength = 16

// Tokens holds the known tokens by their SHA-256, so that a lookup's timing
// says nothing about how much of a guess was right. The set can be replaced
// while requests are checked, when the token file changes.
type Tokens struct {
	set atomic.Pointer[tokenSet]
	// loaded is the stamp of the file the tokens were first read from,
	// taken before reading it, so that a change made while or after it was
	// read is noticed by WatchTokenFile.
	loaded fileStamp
}

// tokenSet maps a token's SHA-256 to its roles; it is never changed once
// built.
type tokenSet map[[32]byte]map[Role]bool

// ParseTokens reads a token file: one "ROLE TOKEN" per line, where ROLE is
// agent or reader; blank lines and lines starting with # are ignored. A
// token listed under both roles has both.
func ParseTokens(b []byte) (*Tokens, error) {
	set := tokenSet{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"ROLE TOKEN\"", n)
		}
		role := Role(f[0])
		if role != RoleAgent && role != RoleReader {
			return nil, fmt.Errorf("line %d: unknown role %q (want agent or reader)", n, f[0])
		}
		if len(f[1]) < minTokenLength {
			return nil, fmt.Errorf("line %d: token shorter than %d characters", n, minTokenLength)
		}
		h := sha256.Sum256([]byte(f[1]))
		if set[h] == nil {
			set[h] = map[Role]bool{}
		}
		set[h][role] = true
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(set) == 0 {
		return nil, errors.New("no tokens")
	}
	t := new(Tokens)
	t.set.Store(&set)
	return t, nil
}

// LoadTokens reads a token file. It holds credentials, so nobody else may
// read it: no access for others, and group read only for a group of this
// process (a Kubernetes Secret volume with fsGroup gives its files to the
// pod's group, mode 0440).
func LoadTokens(path string) (*Tokens, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	if err := private(fi); err != nil {
		return nil, fmt.Errorf("token file %s %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	t, err := ParseTokens(b)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	t.loaded = stampOfInfo(fi)
	return t, nil
}

// Has tells whether token grants role.
func (t *Tokens) Has(token string, role Role) (known, allowed bool) {
	roles, ok := (*t.set.Load())[sha256.Sum256([]byte(token))]
	return ok, roles[role]
}

// NewToken returns a random token.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// EnsureTokenFile creates path with one new agent token and one new reader
// token unless it exists. It reports whether it created the file.
func EnsureTokenFile(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("check token file: %w", err)
	}
	agent, err := NewToken()
	if err != nil {
		return false, err
	}
	reader, err := NewToken()
	if err != nil {
		return false, err
	}
	content := fmt.Sprintf("# graceline-collector tokens: ROLE TOKEN per line.\n# Agents need an agent token, kubectl-graceline a reader token.\nagent %s\nreader %s\n", agent, reader)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false, fmt.Errorf("create token file: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return false, fmt.Errorf("write token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("write token file: %w", err)
	}
	return true, nil
}

// private checks a token file's mode and group, as LoadTokens says.
func private(fi os.FileInfo) error {
	perm := fi.Mode().Perm()
	if perm&0o037 != 0 {
		return fmt.Errorf("is accessible to others, or writable by its group (mode %v); chmod 600 it", perm)
	}
	if perm&0o040 == 0 {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("is readable by its group (mode %v), whose id is unknown; chmod 600 it", perm)
	}
	groups, err := os.Getgroups()
	if err != nil {
		return fmt.Errorf("is readable by its group (mode %v), and this process's groups are unknown: %w", perm, err)
	}
	if int(st.Gid) == os.Getegid() || slices.Contains(groups, int(st.Gid)) {
		return nil
	}
	return fmt.Errorf("is readable by group %d (mode %v), which is not this process's; chmod 600 it, or give it this process's group", st.Gid, perm)
}
