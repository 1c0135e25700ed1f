package probe

import (
	"os/exec"
	"testing"
	"time"
)

func TestStartTicks(t *testing.T) {
	tests := []struct {
		name string
		stat string
		want uint64
		bad  bool
	}{
		{name: "A plain command name is skipped.", stat: "42 (pause) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10 18446744073709551615", want: 98765},
		{name: "A command name with spaces and parentheses is skipped whole.", stat: "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12 1000 10", want: 12},
		{name: "A line without a command name is refused.", stat: "7 a R 1", bad: true},
		{name: "A line cut short is refused.", stat: "7 (a) R 1 7", bad: true},
	}
	for _, tt := range tests {
		got, err := startTicks([]byte(tt.stat))
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("%s: startTicks = %d, %v; want %d (error %v)", tt.name, got, err, tt.want, tt.bad)
		}
	}
}

// A process started now is reported as started now, on the events' clock,
// at /proc's 10 ms resolution.
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
	if got.Before(before.Add(-time.Second/userHZ-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
		t.Errorf("ProcessStart = %v; the process started between %v and %v", got, before, after)
	}
	if _, err := newClock().ProcessStart(-1); err == nil {
		t.Errorf("ProcessStart of no process gave no error")
	}
}
