package diagnose

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startFakeShim runs a shell named like containerd's shim, with one child,
// and returns both pids.
func startFakeShim(t *testing.T) (shim, child int) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	b, err := os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "containerd-shim-runc-v2")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", "sleep 60 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	shim = cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", shim, shim))
		if f := strings.Fields(string(kids)); len(f) > 0 {
			child, _ = strconv.Atoi(f[0])
			t.Cleanup(func() {
				if p, err := os.FindProcess(child); err == nil {
					p.Kill()
				}
			})
			return shim, child
		}
	}
	t.Fatal("the fake shim never started its child")
	return 0, 0
}

func TestFindShim(t *testing.T) {
	shim, child := startFakeShim(t)
	cases := []struct {
		name     string
		children []int
		want     int // 0 for none
	}{
		{name: "the shim is found as the parent of the pod's process", children: []int{child}, want: shim},
		{name: "a process gone is skipped for the next one", children: []int{1 << 22, child}, want: shim},
		{name: "a process whose parent is no shim finds none", children: []int{os.Getpid()}},
		{name: "a pod without processes finds none", children: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := findShim(tc.children)
			switch {
			case tc.want == 0 && got != nil:
				t.Errorf("found shim %d (%s), want none", got.pid, got.comm)
			case tc.want != 0 && (got == nil || got.pid != tc.want):
				t.Errorf("found %v, want shim %d", got, tc.want)
			}
		})
	}
}
