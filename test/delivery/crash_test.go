package delivery

import (
	"path/filepath"
	"testing"
	"time"
)

const total = 20000

func TestCrashes(t *testing.T) {
	cases := []struct {
		name string
		// crash kills one side with SIGKILL and restarts it.
		crash func(t *testing.T, c *collector, restartAgent func(), killAgent func())
	}{
		{
			name: "a collector killed twice mid-stream ends up with every event exactly once",
			crash: func(t *testing.T, c *collector, _, _ func()) {
				c.p.kill(t)
				time.Sleep(200 * time.Millisecond) // the agent notices and backs off
				c.start(t)
			},
		},
		{
			name: "an agent killed twice mid-stream ends up with every event exactly once",
			crash: func(t *testing.T, _ *collector, restartAgent, killAgent func()) {
				killAgent()
				restartAgent()
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCollector(t, nil)
			st := openStore(t, c.db())
			spoolDir := filepath.Join(t.TempDir(), "spool")
			args := []string{"--collector", c.grpc, "--token-file", c.tokens, "--spool-dir", spoolDir, "--total", "20000", "--rate", "4000"}
			agent := start(t, "loadagent", loadBin, args...)
			killAgent := func() { agent.kill(t) }
			restartAgent := func() { agent = start(t, "loadagent", loadBin, args...) }

			for _, at := range []int{5000, 12000} {
				waitFor(t, 60*time.Second, "events stored", func() bool { return st.count(t) >= at })
				if n := st.count(t); n >= total {
					t.Fatalf("the stream was over (%d stored) before the crash at %d", n, at)
				}
				tc.crash(t, c, restartAgent, killAgent)
			}
			st.waitCount(t, total)
			if agent.exited() {
				t.Errorf("the agent exited: %v", agent.err)
			}
			st.checkExactlyOnce(t, total)
		})
	}
}
