package collector

import (
	"os"
	"testing"
)

// TestMain removes the benchmark database, which outlives single runs of
// BenchmarkTimelineQuery on purpose: building it takes a while.
func TestMain(m *testing.M) {
	code := m.Run()
	if timelineDB.dir != "" {
		os.RemoveAll(timelineDB.dir)
	}
	os.Exit(code)
}
