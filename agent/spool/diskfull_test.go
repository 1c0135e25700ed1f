package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestFullFilesystem runs the spool on a real, small tmpfs that is filled
// to the last block, then freed. Whatever the spool could not write must
// be reported by one events_dropped record just before the first event it
// could write again; a full filesystem must not keep the spool from opening.
func TestFullFilesystem(t *testing.T) {
	cases := []struct {
		name string
		// before runs on the empty filesystem, before it is filled; it may
		// leave records of an earlier run in dir. It returns that run's
		// epoch, or 0.
		before func(t *testing.T, dir string) uint64
		// kept is how many events of the earlier run the spool still holds.
		kept int
		// reopen closes the spool opened on the full filesystem and opens
		// it again, still full, before anything is appended.
		reopen bool
	}{
		{
			name:   "a new spool opens on a full filesystem and writes once space returns",
			before: func(*testing.T, string) uint64 { return 0 },
		},
		{
			name: "a spool with records reopens on a full filesystem under a newer epoch",
			before: func(t *testing.T, dir string) uint64 {
				s := openFS(t, dir)
				for i := range 3 {
					if err := s.Append(bigEvent(i)); err != nil {
						t.Fatal(err)
					}
				}
				epoch := s.Epoch()
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				return epoch
			},
			kept: 3,
		},
		{
			name:   "a spool opened and closed on a full filesystem opens again",
			before: func(*testing.T, string) uint64 { return 0 },
			reopen: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := mountTmpfs(t, "256k")
			dir := filepath.Join(fs, "spool")
			earlier := tc.before(t, dir)
			filler := fill(t, fs)

			s := openFS(t, dir)
			if tc.reopen {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = openFS(t, dir)
			}
			defer s.Close()
			if s.Epoch() <= earlier {
				t.Errorf("epoch %d of the new run is not above the earlier run's %d", s.Epoch(), earlier)
			}
			const failed = 5
			for i := range failed {
				if err := s.Append(bigEvent(100 + i)); !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("append %d on a full filesystem = %v, want ENOSPC", i, err)
				}
			}
			if c := counter(t, s.m.dropped.WithLabelValues(dropWrite)); c != failed {
				t.Errorf("dropped{write_error} = %v, want %d", c, failed)
			}
			// The sender drains the spool while the filesystem is still
			// full: acknowledging must work without saving the cursor.
			if n := ackAll(t, s); n != tc.kept {
				t.Errorf("acknowledged %d records of the earlier run while full, want %d", n, tc.kept)
			}

			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			if err := s.Append(bigEvent(200)); err != nil {
				t.Fatalf("append once space returned: %v", err)
			}
			checkEpochFile(t, dir, s.Epoch())

			var report, next *apiv1.Record
			var reports uint64
			for _, r := range readAll(t, s) {
				e := new(apiv1.Event)
				if err := proto.Unmarshal(r.Event, e); err != nil {
					t.Fatal(err)
				}
				switch {
				case e.Kind == apiv1.KindEventsDropped:
					if e.GetDrop().GetReason() != apiv1.DropReasonSpoolWriteFailed {
						t.Errorf("drop report for %q, want %q", e.GetDrop().GetReason(), apiv1.DropReasonSpoolWriteFailed)
					}
					report, reports = r, reports+e.GetDrop().GetCount()
				case e.GetPod().GetName() == "pod-200":
					next = r
				case r.Key.Epoch == earlier:
					t.Errorf("record %v of the earlier run read again after it was acknowledged", r.Key)
				default:
					t.Errorf("unexpected record %v: %s %s", r.Key, e.Kind, e.GetPod().GetName())
				}
			}
			if report == nil || next == nil {
				t.Fatalf("spool lacks the drop report (%v) or the event written after it (%v)", report, next)
			}
			if reports != failed {
				t.Errorf("drop reports count %d events, want the %d appends that failed", reports, failed)
			}
			if report.Key.Epoch != next.Key.Epoch || report.Key.Seq+1 != next.Key.Seq {
				t.Errorf("drop report %v does not come just before the next event %v", report.Key, next.Key)
			}
		})
	}
}

// ackAll reads and acknowledges every unread record, and returns how many
// there were.
func ackAll(t *testing.T, s *Spool) int {
	t.Helper()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	for {
		b, err := s.Read(done, 100, 1<<20)
		if err != nil {
			return n
		}
		if err := s.Ack(b.Mark); err != nil {
			t.Fatalf("acknowledge on a full filesystem: %v", err)
		}
		n += len(b.Records)
	}
}

// openFS opens a spool bounded well above the filesystem it lives on, so
// that the filesystem fills first.
func openFS(t *testing.T, dir string) *Spool {
	t.Helper()
	s, _ := open(t, dir, Options{MaxBytes: 4 << 20, SegmentBytes: 64 << 10})
	return s
}

// bigEvent is an event larger than a page, so that appending it always
// needs a block the full filesystem does not have.
func bigEvent(i int) *apiv1.Event {
	e := event(apiv1.KindExec, i)
	e.Process = &apiv1.Process{Pid: 1, Comm: "sh", Argv: []string{strings.Repeat("x", 6000)}}
	return e
}

func checkEpochFile(t *testing.T, dir string, want uint64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "epoch"))
	if err != nil {
		t.Fatalf("epoch not saved once space returned: %v", err)
	}
	if got, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); got != want {
		t.Errorf("epoch file says %d, the spool writes under %d", got, want)
	}
}

// mountTmpfs mounts a tmpfs of size on a new directory for the test.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("SKIPPED: mounting a small tmpfs needs root (CAP_SYS_ADMIN): %v", err)
		}
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount tmpfs: %v", err)
		}
	})
	return dir
}

// fill writes a file into the filesystem at dir until no byte more fits,
// and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{64 << 10, 4096, 1} {
		b := make([]byte, chunk)
		for {
			if _, err = f.Write(b); err != nil {
				break
			}
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("fill filesystem: %v", err)
		}
	}
	return path
}
