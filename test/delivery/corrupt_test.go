package delivery

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/agent/spool"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestCorruptSpool gives the real agent a spool left damaged by a crash: a
// sealed segment with garbage after its last record, and a last segment
// whose final record was cut short. The agent must deliver every valid
// record, count both damages, and keep running.
func TestCorruptSpool(t *testing.T) {
	const written = 1000
	spoolDir := filepath.Join(t.TempDir(), "spool")
	sp, err := spool.Open(spoolDir, spool.Options{Node: "corrupt-node", SegmentBytes: 16 << 10}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range written {
		e := &apiv1.Event{Kind: apiv1.KindContainerStarted, Time: timestamppb.Now(), Node: "corrupt-node",
			Pod: &apiv1.PodRef{Namespace: "load", Name: fmt.Sprintf("p-%06d", i), Uid: fmt.Sprintf("uid-%06d", i)}}
		if err := sp.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close()
	segs, _ := filepath.Glob(filepath.Join(spoolDir, "raw-*.seg"))
	sort.Strings(segs)
	if len(segs) < 3 {
		t.Fatalf("%d segments; the test needs several", len(segs))
	}
	garbage(t, segs[0], []byte("\x20\x00\x00\x00\xde\xad\xbe\xef garbage where a record should be"))
	last := segs[len(segs)-1]
	fi, _ := os.Stat(last)
	if err := os.Truncate(last, fi.Size()-7); err != nil {
		t.Fatal(err)
	}

	c := newCollector(t, nil)
	st := openStore(t, c.db())
	metrics := freeAddr(t)
	agent := start(t, "graceline-agent", agentBin, "--cri-endpoint", "unix:///nonexistent/graceline-test.sock", "--cri-timeout", "1s",
		"--node-name", "corrupt-node", "--collector", c.grpc, "--token-file", c.tokens, "--spool-dir", spoolDir, "--metrics-address", metrics)

	st.waitCount(t, written-1) // all but the cut record
	time.Sleep(500 * time.Millisecond)
	st.checkExactlyOnce(t, written-1)
	body := get(t, "http://"+metrics+"/metrics")
	for _, want := range []string{
		`graceline_spool_damaged_records_total{reason="corrupt"} 1`,
		`graceline_spool_damaged_records_total{reason="truncated"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("agent /metrics lacks %q", want)
		}
	}
	if agent.exited() {
		t.Errorf("the agent exited: %v", agent.err)
	}
}

func garbage(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	var body string
	waitFor(t, 10*time.Second, url, func() bool {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return true
	})
	return body
}
