package store

import (
	"context"
	"path/filepath"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestTraceEventsFollowTheCursor(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s := openStore(t, path)
	if _, err := s.Insert(ctx, []Row{
		row("a", 1, 1, "u1", apiv1.KindContainerStarted, 10),
		row("a", 1, 2, "u1", apiv1.KindStuck, 20),
		row("a", 1, 3, "u1", apiv1.KindStuck, 25),
		row("a", 1, 4, "u1", apiv1.KindTerminationSummary, 30),
		row("a", 1, 5, "u2", apiv1.KindContainerSummary, 40),
	}); err != nil {
		t.Fatal(err)
	}
	all, err := s.TraceEventsAfter(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("only summaries and stuck reports are trace events, in stored order", func(t *testing.T) {
		var kinds []string
		for _, e := range all {
			kinds = append(kinds, e.Kind)
		}
		want := []string{apiv1.KindStuck, apiv1.KindStuck, apiv1.KindTerminationSummary, apiv1.KindContainerSummary}
		if len(kinds) != len(want) {
			t.Fatalf("kinds = %q, want %q", kinds, want)
		}
		for i := range want {
			if kinds[i] != want[i] {
				t.Fatalf("kinds = %q, want %q", kinds, want)
			}
		}
	})
	t.Run("the first stuck report has none before it, the second has", func(t *testing.T) {
		for i, want := range []bool{false, true} {
			got, err := s.EarlierStuckReport(ctx, "u1", all[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("report %d: earlier = %v, want %v", i, got, want)
			}
		}
	})
	t.Run("the cursor survives a reopen, and a read after it starts past it", func(t *testing.T) {
		if c, err := s.ExportCursor(ctx, "otlp"); err != nil || c != 0 {
			t.Fatalf("a new cursor = %d, %v; want 0", c, err)
		}
		if err := s.SetExportCursor(ctx, "otlp", all[2].ID); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s2 := openStore(t, path)
		c, err := s2.ExportCursor(ctx, "otlp")
		if err != nil || c != all[2].ID {
			t.Fatalf("cursor after reopen = %d, %v; want %d", c, err, all[2].ID)
		}
		rest, err := s2.TraceEventsAfter(ctx, c, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) != 1 || rest[0].Kind != apiv1.KindContainerSummary {
			t.Errorf("after the cursor: %+v, want the container summary alone", rest)
		}
	})
}
