package store

import (
	"context"
	"database/sql"
	"fmt"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// WorkloadReport is what one workload's pods went through on their way out
// in a report's window. Durations are from the delete request to the
// object's removal, over the finished pods (those with a final summary),
// by nearest rank.
type WorkloadReport struct {
	Namespace, Kind, Name  string
	Terminations, Finished int64
	Killed, TrafficRisk    int64
	Stuck                  int64
	P50Ns, P95Ns           int64
	// Cause is the most common cause of the finished pods, with how many
	// had it and the advice of the latest of them.
	Cause      string
	CauseCount int64
	Advice     string
	Initiators map[string]int64
}

// reportSQL sums up the pods whose delete was requested at or after ?1, in
// namespace ?2 (all when empty), per owner workload. The percentiles are
// nearest-rank: the k-th smallest duration with k = ceil(n·p/100).
const reportSQL = `
WITH w AS (
	SELECT namespace, workload_kind AS kind, workload_name AS name, del_ns, stuck_ns, final_ns,
	       final_verdict, traffic_risk, cause, advice,
	       CASE WHEN final_ns > 0 AND gone_ns >= del_ns THEN gone_ns - del_ns END AS dur
	FROM pods
	WHERE workload_kind != '' AND del_ns > 0 AND del_ns >= ?1 AND (?2 = '' OR namespace = ?2)
),
ranked AS (
	SELECT namespace, kind, name, dur,
	       ROW_NUMBER() OVER (PARTITION BY namespace, kind, name ORDER BY dur) AS rn,
	       COUNT(*) OVER (PARTITION BY namespace, kind, name) AS n
	FROM w WHERE dur IS NOT NULL
),
pct AS (
	SELECT namespace, kind, name,
	       MIN(CASE WHEN rn >= (n * 50 + 99) / 100 THEN dur END) AS p50,
	       MIN(CASE WHEN rn >= (n * 95 + 99) / 100 THEN dur END) AS p95
	FROM ranked GROUP BY namespace, kind, name
),
causes AS (
	SELECT namespace, kind, name, cause, COUNT(*) AS c, MAX(del_ns) AS latest
	FROM w WHERE final_ns > 0 AND cause != '' GROUP BY namespace, kind, name, cause
),
top AS (
	SELECT namespace, kind, name, cause, c,
	       ROW_NUMBER() OVER (PARTITION BY namespace, kind, name ORDER BY c DESC, latest DESC, cause) AS r
	FROM causes
)
SELECT w.namespace, w.kind, w.name,
       COUNT(*),
       SUM(w.final_ns > 0),
       SUM(w.final_ns > 0 AND w.final_verdict = ?3),
       SUM(w.final_ns > 0 AND w.traffic_risk != 0),
       SUM(w.stuck_ns > 0),
       COALESCE(pct.p50, 0), COALESCE(pct.p95, 0),
       COALESCE(top.cause, ''), COALESCE(top.c, 0),
       COALESCE((SELECT advice FROM w AS a
                 WHERE a.namespace = w.namespace AND a.kind = w.kind AND a.name = w.name AND a.final_ns > 0 AND a.cause = top.cause
                 ORDER BY a.del_ns DESC LIMIT 1), '')
FROM w
LEFT JOIN pct ON pct.namespace = w.namespace AND pct.kind = w.kind AND pct.name = w.name
LEFT JOIN top ON top.namespace = w.namespace AND top.kind = w.kind AND top.name = w.name AND top.r = 1
GROUP BY w.namespace, w.kind, w.name
ORDER BY w.namespace, w.kind, w.name`

// initiatorsSQL counts the same pods by initiator.
const initiatorsSQL = `
SELECT namespace, workload_kind, workload_name, initiator, COUNT(*)
FROM pods
WHERE workload_kind != '' AND del_ns > 0 AND del_ns >= ?1 AND (?2 = '' OR namespace = ?2) AND initiator != ''
GROUP BY namespace, workload_kind, workload_name, initiator`

// Report sums up, per owner workload, the terminations whose delete the
// API watches saw requested at or after sinceNs, in namespace (all when
// empty). Pods without an owner workload are left out.
func (s *Store) Report(ctx context.Context, namespace string, sinceNs int64) ([]WorkloadReport, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin report: %w", err)
	}
	// Both queries read one snapshot, so that the counts agree.
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, reportSQL, sinceNs, namespace, apiv1.VerdictKilled)
	if err != nil {
		return nil, fmt.Errorf("query report: %w", err)
	}
	var out []WorkloadReport
	index := map[[3]string]int{}
	for rows.Next() {
		var r WorkloadReport
		if err := rows.Scan(&r.Namespace, &r.Kind, &r.Name, &r.Terminations, &r.Finished, &r.Killed, &r.TrafficRisk, &r.Stuck,
			&r.P50Ns, &r.P95Ns, &r.Cause, &r.CauseCount, &r.Advice); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read report: %w", err)
		}
		index[[3]string{r.Namespace, r.Kind, r.Name}] = len(out)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	rows, err = tx.QueryContext(ctx, initiatorsSQL, sinceNs, namespace)
	if err != nil {
		return nil, fmt.Errorf("query report's initiators: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key [3]string
		var initiator string
		var n int64
		if err := rows.Scan(&key[0], &key[1], &key[2], &initiator, &n); err != nil {
			return nil, fmt.Errorf("read report's initiators: %w", err)
		}
		if i, ok := index[key]; ok {
			if out[i].Initiators == nil {
				out[i].Initiators = map[string]int64{}
			}
			out[i].Initiators[initiator] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read report's initiators: %w", err)
	}
	return out, nil
}
