package termination

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

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
	requireRoot(t)
	// real holds the binary; bin is the configured CNI bin dir, whose
	// plugin is a symlink into real, as Debian's /usr/lib/cni links are.
	real, bin := t.TempDir(), t.TempDir()
	copyFile(t, "/bin/busybox", filepath.Join(real, "busybox"))
	// busybox runs the applet named by argv[1] when it is called busybox.
	if err := os.Symlink(filepath.Join(real, "busybox"), filepath.Join(bin, "busybox")); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{HostMntNS: hostMntNS(t), RatePerSec: 1000, Burst: 1000, CNIOutput: true})
	if err != nil {
		t.Fatalf("load probes: %v", err)
	}
	if err := p.CNIOutputErr(); err != nil {
		t.Fatalf("CNI output capture unavailable: %v", err)
	}
	added, err := p.AddCNIBinDirs([]string{bin, filepath.Join(bin, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(added, real) {
		t.Fatalf("followed dirs %q, want the link target's dir %s among them", added, real)
	}
	c := runProbe(t, p)

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
				waitEvent(t, c, uint32(later.Process.Pid), EventCNIExit, 0)
				if e := c.find(pid, EventCNIExec, 0); e != nil {
					t.Errorf("a process outside the CNI dirs was followed: %+v", e)
				}
				return
			}
			start := waitEvent(t, c, pid, EventCNIExec, 0)
			for _, kv := range cmd.Env {
				if !slices.Contains(start.Env, kv) {
					t.Errorf("env %q lacks %q", start.Env, kv)
				}
			}
			if len(start.Argv) == 0 || start.Argv[0] != tc.path {
				t.Errorf("argv %q, want %s first", start.Argv, tc.path)
			}
			exit := waitEvent(t, c, pid, EventCNIExit, 0)
			if exit.ExitStatus != tc.wantStatus || exit.ExitSignal != 0 {
				t.Errorf("exit status %d signal %v, want %d", exit.ExitStatus, exit.ExitSignal, tc.wantStatus)
			}
			if got := c.output(pid); got != tc.wantOutput {
				t.Errorf("stdout %q, want %q", got, tc.wantOutput)
			}
		})
	}
}

// TestCNIOutputBounded checks that a plugin writing more than the bound
// has only its first bytes sent up.
func TestCNIOutputBounded(t *testing.T) {
	requireRoot(t)
	bin := t.TempDir()
	copyFile(t, "/bin/busybox", filepath.Join(bin, "busybox"))
	p, err := New(Config{HostMntNS: hostMntNS(t), RatePerSec: 1000, Burst: 1000, CNIOutput: true})
	if err != nil {
		t.Fatalf("load probes: %v", err)
	}
	if _, err := p.AddCNIBinDirs([]string{bin}); err != nil {
		t.Fatal(err)
	}
	c := runProbe(t, p)
	cmd := exec.Command(filepath.Join(bin, "busybox"), "sh", "-c", "i=0; while [ $i -lt 100 ]; do echo "+strings.Repeat("x", 99)+"; i=$((i+1)); done")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := uint32(cmd.Process.Pid)
	waitEvent(t, c, pid, EventCNIExit, 0)
	got := c.output(pid)
	if len(got) != cniOutputLen || got != out.String()[:cniOutputLen] {
		t.Errorf("captured %d bytes, want the first %d of the %d written", len(got), cniOutputLen, out.Len())
	}
}
