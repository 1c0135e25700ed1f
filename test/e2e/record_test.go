package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// recordDirEnv names a directory where TestTerminationSummary saves each
// case's events, as the agent printed them, for replay tests that need a
// real stream (agent/timeline's agreement test reads them as testdata).
const recordDirEnv = "GRACELINE_E2E_RECORD"

// record writes events as JSON lines to <dir>/<name>.jsonl when
// GRACELINE_E2E_RECORD names a directory, and does nothing otherwise.
func record(t *testing.T, name string, events []*apiv1.Event) {
	t.Helper()
	dir := os.Getenv(recordDirEnv)
	if dir == "" {
		return
	}
	var buf bytes.Buffer
	for _, e := range events {
		line, err := apiv1.MarshalJSONLine(e)
		if err != nil {
			t.Fatalf("record %s: %v", name, err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	path := filepath.Join(dir, name+".jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatalf("record %s: %v", name, err)
	}
	t.Logf("recorded %d events in %s", len(events), path)
}
