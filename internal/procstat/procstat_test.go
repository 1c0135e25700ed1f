package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Stat
		bad  bool
	}{
		{name: "A plain line gives its command, state, parent and start.",
			line: "42 (pause) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10 18446744073709551615",
			want: Stat{Comm: "pause", State: "S", PPid: 1, Start: 98765 * Tick}},
		{name: "A command name with spaces and parentheses is taken whole.",
			line: "7 (a) b (c) R 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12 1000 10",
			want: Stat{Comm: "a) b (c", State: "R", PPid: 3, Start: 12 * Tick}},
		{name: "A line cut short leaves the missing fields zero.", line: "7 (a) Z", want: Stat{Comm: "a", State: "Z"}},
		{name: "A line without a command name is refused.", line: "7 a R 1", bad: true},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.line))
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("%s: Parse = %+v, %v; want %+v (error %v)", tt.name, got, err, tt.want, tt.bad)
		}
	}
}

func TestReadSelf(t *testing.T) {
	s, err := Read("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.PPid != os.Getppid() || s.Start <= 0 || s.Start > 100*365*24*time.Hour {
		t.Errorf("Read of this process = %+v; want its parent %d and a start since boot", s, os.Getppid())
	}
	if _, err := Read("/proc", -1); err == nil {
		t.Errorf("Read of no process gave no error")
	}
}
