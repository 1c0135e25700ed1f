package store

import (
	"context"
	"fmt"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// stuckNow selects the pods whose latest stuck report is newer than any
// sign of their end (a final summary, or the pod gone from the API; see
// apiv1.EndsTermination): what `kubectl graceline stuck` lists and what
// the graceline_pods_stuck gauge counts.
const stuckNow = "stuck_ns > 0 AND stuck_ns > end_ns"

// StuckReport is a pod stuck now, with the encoded event of its latest
// stuck report (a stuck event, or a summary whose verdict is stuck).
type StuckReport struct {
	Namespace string
	Report    []byte
}

// StuckReports returns at most limit pods stuck now, with their latest
// stuck report, newest first. The report is found by the pod's uid and
// the report's time, both indexed, so that a scrape reads one row per
// stuck pod.
func (s *Store) StuckReports(ctx context.Context, limit int) ([]StuckReport, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT p.namespace,
		coalesce((SELECT e.body FROM events e
			WHERE e.uid = p.uid AND e.time_ns = p.stuck_ns AND e.kind IN (?, ?)
			ORDER BY e.kind = ? DESC, e.seq DESC LIMIT 1), x'')
		FROM pods p WHERE `+stuckNow+` ORDER BY p.stuck_ns DESC LIMIT ?`,
		apiv1.KindStuck, apiv1.KindTerminationSummary, apiv1.KindStuck, limit)
	if err != nil {
		return nil, fmt.Errorf("list stuck reports: %w", err)
	}
	defer rows.Close()
	var out []StuckReport
	for rows.Next() {
		var r StuckReport
		if err := rows.Scan(&r.Namespace, &r.Report); err != nil {
			return nil, fmt.Errorf("read stuck report: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stuck reports: %w", err)
	}
	return out, nil
}
