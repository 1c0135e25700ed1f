package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestStuckReports(t *testing.T) {
	stuck := func(seq int64, uid string, at int64, body string) Row {
		r := row("a", 1, seq, uid, apiv1.KindStuck, at)
		r.Body = []byte(body)
		return r
	}
	for _, tc := range []struct {
		name  string
		rows  []Row
		limit int
		want  []string // the reports' bodies, newest first
	}{
		{"a pod never reported stuck is not listed", []Row{row("a", 1, 1, "u1", apiv1.KindContainerStarted, 10)}, 10, nil},
		{"a stuck pod is listed with its latest report", []Row{stuck(1, "u1", 10, "first"), stuck(2, "u1", 20, "second")}, 10, []string{"second"}},
		{"a pod that ended after its report is not listed", []Row{stuck(1, "u1", 10, "stuck"), row("a", 1, 2, "u1", apiv1.KindPodDeleted, 30)}, 10, nil},
		{"a report after the end counts again", []Row{row("a", 1, 1, "u1", apiv1.KindPodDeleted, 5), stuck(2, "u1", 10, "again")}, 10, []string{"again"}},
		{"a sandbox removed while a busy volume holds the pod leaves it listed", []Row{stuck(1, "u1", 10, "stuck"), row("a", 1, 2, "u1", apiv1.KindSandboxRemoved, 30)}, 10, []string{"stuck"}},
		{"a final summary after the report ends it", []Row{stuck(1, "u1", 10, "stuck"), func() Row {
			r := row("a", 1, 2, "u1", apiv1.KindTerminationSummary, 30)
			r.Verdict = apiv1.VerdictGraceful
			return r
		}()}, 10, nil},
		{"a summary whose verdict is stuck is a report", []Row{func() Row {
			r := row("a", 1, 1, "u1", apiv1.KindTerminationSummary, 10)
			r.Verdict, r.Body = apiv1.VerdictStuck, []byte("summary")
			return r
		}()}, 10, []string{"summary"}},
		{"the limit bounds the pods read, newest first", []Row{stuck(1, "u1", 10, "old"), stuck(2, "u2", 20, "new")}, 1, []string{"new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "db"))
			if _, err := s.Insert(context.Background(), tc.rows); err != nil {
				t.Fatal(err)
			}
			got, err := s.StuckReports(context.Background(), tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var bodies []string
			for _, r := range got {
				if r.Namespace != "ns" {
					t.Errorf("namespace = %q, want ns", r.Namespace)
				}
				bodies = append(bodies, string(r.Report))
			}
			if !slices.Equal(bodies, tc.want) {
				t.Errorf("reports = %q, want %q", bodies, tc.want)
			}
		})
	}
}
