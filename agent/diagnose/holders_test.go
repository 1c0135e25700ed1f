package diagnose

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graceline/graceline/agent/timeline"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestABusyVolumeNamesItsHolders mounts a real tmpfs where the kubelet
// mounts a pod's emptyDir volume, keeps it busy with real processes in the
// ways that make an unmount fail, and inspects the pod as the correlator
// does once a stuck report is due.
func TestABusyVolumeNamesItsHolders(t *testing.T) {
	kubelet := t.TempDir()
	volume := filepath.Join(kubelet, "pods", "u1", "volumes", "kubernetes.io~empty-dir", "scratch")
	if err := os.MkdirAll(volume, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", volume, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("SKIPPED: mounting a tmpfs needs root (CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(volume, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(volume, "log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The agent's own open file on the volume does not count: it never
	// holds one, and must not name itself.
	own, err := os.Open(filepath.Join(volume, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()

	cases := []struct {
		name string
		// start keeps the volume busy, or not, and returns what the report
		// must say of it ("" for no holder).
		start      func(t *testing.T) string
		containers []timeline.SubjectContainer
		want       string
	}{
		{
			name: "a shell whose working directory is in the volume is named, with how it holds it",
			start: func(t *testing.T) string {
				pid := run(t, volume, "sh", "-c", "exec sleep 60")
				return fmt.Sprintf("sleep (pid %d) keeps it busy: its working directory is in %s", pid, volume)
			},
			containers: []timeline.SubjectContainer{{ID: "c1", Name: "main", Exited: true}},
			want:       apiv1.StuckBusyMount,
		},
		{
			name: "a process with a file of the volume open is named, with the file",
			start: func(t *testing.T) string {
				pid := run(t, "/", "sh", "-c", "exec sleep 60 3<"+filepath.Join(volume, "log"))
				return fmt.Sprintf("sleep (pid %d) keeps it busy: it has %s open (fd 3)", pid, filepath.Join(volume, "log"))
			},
			containers: []timeline.SubjectContainer{{ID: "c1", Name: "main", Exited: true}},
			want:       apiv1.StuckBusyMount,
		},
		{
			name:       "a volume nobody uses names no holder",
			start:      func(t *testing.T) string { return "" },
			containers: []timeline.SubjectContainer{{ID: "c1", Name: "main", Exited: true}},
		},
		{
			name: "while a container still runs its volume is in use as it should be, and no holder is looked for",
			start: func(t *testing.T) string {
				run(t, volume, "sleep", "60")
				return ""
			},
			containers: []timeline.SubjectContainer{{ID: "c1", Name: "main"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fact := tc.start(t)
			in := &Inspector{KubeletRoot: kubelet, Now: time.Now}
			found := in.Inspect(timeline.Subject{PodUID: "u1", Due: true, Phase: timeline.PhaseResourceRelease, Containers: tc.containers})
			if !strings.Contains(strings.Join(found.Evidence, "\n"), "mount still present: "+volume) {
				t.Errorf("evidence %q lacks the mount", found.Evidence)
			}
			var got []string
			for _, b := range found.Blockers {
				got = append(got, b.Cause)
				if b.Cause == apiv1.StuckBusyMount && !strings.Contains(strings.Join(b.Facts, "\n"), fact) {
					t.Errorf("busy mount facts %q, want %q", b.Facts, fact)
				}
			}
			if want := strings.Join(nonEmpty(tc.want), ","); strings.Join(got, ",") != want {
				t.Errorf("blockers %v, want %q", got, want)
			}
		})
	}
}

// run starts a process in dir and stops it when the test ends; it returns
// once the process is running what it was asked to.
func run(t *testing.T, dir string, argv ...string) int {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p, err := readStat(pid); err == nil && p.comm == "sleep" {
			return pid
		}
	}
	t.Fatalf("pid %d never ran sleep", pid)
	return 0
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
