package collector

import (
	"os"
	"testing"
)

// TestMain removes the benchmark databases, which outlive single runs of
// BenchmarkTimelineQuery on purpose: building them takes a while.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, db := range timelineDBs {
		if db.dir != "" {
			os.RemoveAll(db.dir)
		}
	}
	os.Exit(code)
}
