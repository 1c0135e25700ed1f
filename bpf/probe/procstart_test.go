package probe

import (
	"os/exec"
	"testing"
	"time"

	"github.com/graceline/graceline/internal/procstat"
)

// A process started now is reported as started now, on the events' clock,
// at /proc's resolution.
func TestProcessStart(t *testing.T) {
	before := time.Now()
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sleep: %v", err)
	}
	defer cmd.Process.Kill()
	after := time.Now()
	got, err := newClock().ProcessStart(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// The clock's offset is sampled once, and the two clocks are read a
	// moment apart: a millisecond covers both.
	if got.Before(before.Add(-procstat.Tick-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
		t.Errorf("ProcessStart = %v; the process started between %v and %v", got, before, after)
	}
	if _, err := newClock().ProcessStart(-1); err == nil {
		t.Errorf("ProcessStart of no process gave no error")
	}
}
