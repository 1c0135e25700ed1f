package cni

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/graceline/graceline/bpf/internal/probetest"
	"github.com/graceline/graceline/bpf/probe"
)

// load loads the CNI group, following the plugins in dirs, and reads its
// events until the test ends.
func load(t *testing.T, dirs []string) (*Probe, []string, *probetest.Collector[Event]) {
	t.Helper()
	shared := probetest.Open(t, probe.Config{HostMntNS: probetest.HostMntNS(t), RatePerSec: 1000, Burst: 1000})
	p, err := New(shared, Config{Output: true})
	if err != nil {
		t.Fatalf("load probes: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.OutputErr(); err != nil {
		t.Fatalf("CNI output capture unavailable: %v", err)
	}
	added, err := p.AddBinDirs(dirs)
	if err != nil {
		t.Fatal(err)
	}
	c := &probetest.Collector[Event]{}
	probetest.Run(t, shared, p.Events(c.Add))
	return p, added, c
}

// waitFor waits for pid's event of this type.
func waitFor(t *testing.T, c *probetest.Collector[Event], pid uint32, typ Type) Event {
	t.Helper()
	return c.Wait(t, fmt.Sprintf("type %d for pid %d", typ, pid), func(e Event) bool { return e.Pid == pid && e.Type == typ })
}

// output joins what a followed CNI plugin wrote to stdout.
func output(c *probetest.Collector[Event], pid uint32) string {
	var out []byte
	for _, e := range c.All() {
		if e.Pid == pid && e.Type == Output {
			out = append(out, e.Output...)
		}
	}
	return string(out)
}

// copyFile copies the executable src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCNIPluginRuns runs stand-in CNI plugins (busybox, from a directory the
// probe follows) and checks what the kernel side reports of each run: its
// environment, its stdout and its exit status; and that a process run from
// elsewhere is not followed.
func TestCNIPluginRuns(t *testing.T) {
	probetest.RequireRoot(t)
	// real holds the binary; bin is the configured CNI bin dir, whose
	// plugin is a symlink into real, as Debian's /usr/lib/cni links are.
	real, bin := t.TempDir(), t.TempDir()
	copyFile(t, "/bin/busybox", filepath.Join(real, "busybox"))
	// busybox runs the applet named by argv[1] when it is called busybox.
	if err := os.Symlink(filepath.Join(real, "busybox"), filepath.Join(bin, "busybox")); err != nil {
		t.Fatal(err)
	}
	_, added, c := load(t, []string{bin, filepath.Join(bin, "missing")})
	if !slices.Contains(added, real) {
		t.Fatalf("followed dirs %q, want the link target's dir %s among them", added, real)
	}

	const errJSON = `{"cniVersion":"1.0.0","code":7,"msg":"DEL fails here","details":"on purpose"}`
	cases := []struct {
		name       string
		path       string
		script     string
		wantFollow bool
		wantStatus int32
		wantOutput string
	}{
		{
			name:       "a plugin that fails reports its error on stdout and its exit status",
			path:       filepath.Join(bin, "busybox"),
			script:     "echo '" + errJSON + "'; exit 3",
			wantFollow: true, wantStatus: 3, wantOutput: errJSON + "\n",
		},
		{
			name:       "a plugin that succeeds exits 0",
			path:       filepath.Join(bin, "busybox"),
			script:     "exit 0",
			wantFollow: true,
		},
		{
			name:   "a host process from elsewhere is not followed",
			path:   "/bin/busybox",
			script: "echo '" + errJSON + "'; exit 3",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(tc.path, "sh", "-c", tc.script)
			cmd.Env = []string{"PATH=/bin", "CNI_COMMAND=DEL", "CNI_CONTAINERID=abc123", "CNI_NETNS=/var/run/netns/x"}
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			cmd.Run()
			pid := uint32(cmd.Process.Pid)
			if !tc.wantFollow {
				// Events come in order: once a followed run that started
				// later has exited, this one's exec would have been seen.
				later := exec.Command(filepath.Join(bin, "busybox"), "true")
				if err := later.Run(); err != nil {
					t.Fatal(err)
				}
				waitFor(t, c, uint32(later.Process.Pid), Exit)
				if e, found := c.Find(func(e Event) bool { return e.Pid == pid && e.Type == Exec }); found {
					t.Errorf("a process outside the CNI dirs was followed: %+v", e)
				}
				return
			}
			start := waitFor(t, c, pid, Exec)
			for _, kv := range cmd.Env {
				if !slices.Contains(start.Env, kv) {
					t.Errorf("env %q lacks %q", start.Env, kv)
				}
			}
			if len(start.Argv) == 0 || start.Argv[0] != tc.path {
				t.Errorf("argv %q, want %s first", start.Argv, tc.path)
			}
			exit := waitFor(t, c, pid, Exit)
			if exit.ExitStatus != tc.wantStatus || exit.ExitSignal != 0 {
				t.Errorf("exit status %d signal %v, want %d", exit.ExitStatus, exit.ExitSignal, tc.wantStatus)
			}
			if got := output(c, pid); got != tc.wantOutput {
				t.Errorf("stdout %q, want %q", got, tc.wantOutput)
			}
		})
	}
}

// TestCNIOutputBounded checks that a plugin writing more than the bound
// has only its first bytes sent up.
func TestCNIOutputBounded(t *testing.T) {
	probetest.RequireRoot(t)
	bin := t.TempDir()
	copyFile(t, "/bin/busybox", filepath.Join(bin, "busybox"))
	_, _, c := load(t, []string{bin})
	cmd := exec.Command(filepath.Join(bin, "busybox"), "sh", "-c", "i=0; while [ $i -lt 100 ]; do echo "+strings.Repeat("x", 99)+"; i=$((i+1)); done")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := uint32(cmd.Process.Pid)
	waitFor(t, c, pid, Exit)
	got := output(c, pid)
	if len(got) != outputLen || got != out.String()[:outputLen] {
		t.Errorf("captured %d bytes, want the first %d of the %d written", len(got), outputLen, out.Len())
	}
}
