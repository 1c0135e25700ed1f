package diagnose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graceline/graceline/agent/timeline"
)

// TestOneMountinfoReadServesATick checks that the inspections of one
// correlator tick share a read of the mountinfo, and that a later tick
// sees the mounts as they are then.
func TestOneMountinfoReadServesATick(t *testing.T) {
	dir := t.TempDir()
	mountinfo := filepath.Join(dir, "mountinfo")
	write := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(mountinfo, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const (
		held  = "36 25 0:32 / /var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/data rw - tmpfs tmpfs rw"
		other = "37 25 0:33 / /var/lib/kubelet/pods/u10/volumes/kubernetes.io~empty-dir/data rw - tmpfs tmpfs rw"
		host  = "22 1 8:1 / / rw - ext4 /dev/sda1 rw"
	)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		// after is when, after the first inspection, the mounts of u1 were
		// released and u1 inspected again.
		after time.Duration
		want  string
	}{
		{"an inspection in the same tick sees the tick's read", mountsMaxAge - time.Nanosecond, "mount still present: /var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/data"},
		{"an inspection at the next tick reads the mounts afresh", mountsMaxAge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			write(host, held, other)
			now := start
			in := &Inspector{KubeletRoot: "/var/lib/kubelet", MountInfo: mountinfo, Now: func() time.Time { return now }}
			subject := timeline.Subject{PodUID: "u1", Due: true}
			if got := strings.Join(mountLines(in.Inspect(subject)), "; "); got != "mount still present: /var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/data" {
				t.Fatalf("first inspection: %q, want u1's mount and not u10's", got)
			}
			write(host, other)
			now = start.Add(tc.after)
			if got := strings.Join(mountLines(in.Inspect(subject)), "; "); got != tc.want {
				t.Errorf("inspection %s later: %q, want %q", tc.after, got, tc.want)
			}
		})
	}
}

func mountLines(in timeline.Inspection) []string {
	var out []string
	for _, e := range in.Evidence {
		if strings.HasPrefix(e, "mount ") {
			out = append(out, e)
		}
	}
	return out
}

// TestNoEvidenceUntilAReportIsDue: a pod inspected before its stuck report
// is due costs no read of its processes or the node's mounts, although a
// mount of it is still present.
func TestNoEvidenceUntilAReportIsDue(t *testing.T) {
	mountinfo := filepath.Join(t.TempDir(), "mountinfo")
	line := "36 25 0:32 / /var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/data rw - tmpfs tmpfs rw\n"
	if err := os.WriteFile(mountinfo, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	in := &Inspector{KubeletRoot: "/var/lib/kubelet", MountInfo: mountinfo, Now: time.Now}
	for _, due := range []bool{false, true} {
		found := in.Inspect(timeline.Subject{PodUID: "u1", Due: due})
		if got := len(mountLines(found)); (got > 0) != due {
			t.Errorf("due %v: evidence %q", due, found.Evidence)
		}
	}
}
