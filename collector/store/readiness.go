package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// upsertReadiness keeps, of the rows' termination_readiness events, the
// latest per pod and container; an older one arriving late (a spool
// drained after a newer stream) changes nothing.
func upsertReadiness(ctx context.Context, tx *sql.Tx, rows []Row) error {
	var stmt *sql.Stmt
	for _, r := range rows {
		if r.Kind != apiv1.KindTerminationReadiness || r.UID == "" || r.Readiness.Container == "" {
			continue
		}
		if stmt == nil {
			var err error
			stmt, err = tx.PrepareContext(ctx, `INSERT INTO readiness (uid, container, namespace, time_ns, outcome, cause, body)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (uid, container) DO UPDATE SET
					namespace = excluded.namespace, time_ns = excluded.time_ns, outcome = excluded.outcome,
					cause = excluded.cause, body = excluded.body
				WHERE excluded.time_ns >= time_ns`)
			if err != nil {
				return fmt.Errorf("prepare readiness upsert: %w", err)
			}
			defer stmt.Close()
		}
		f := r.Readiness
		if _, err := stmt.ExecContext(ctx, r.UID, f.Container, r.Namespace, r.TimeNs, f.Outcome, f.Cause, r.Body); err != nil {
			return fmt.Errorf("store readiness: %w", err)
		}
	}
	return nil
}

// running is the condition on a pod row (p) that its pod still runs: no
// termination began, and the API has not been asked to delete it.
const running = `p.term_ns = 0 AND p.del_ns = 0 AND p.end_ns = 0`

// LastPrediction is the body of the latest termination_readiness of a
// pod's container, nil when none was stored: what its termination's cause
// is held against.
func (s *Store) LastPrediction(ctx context.Context, uid, container string) ([]byte, error) {
	var body []byte
	err := s.r.QueryRowContext(ctx, `SELECT body FROM readiness WHERE uid = ? AND container = ?`, uid, container).Scan(&body)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read last prediction: %w", err)
	}
	return body, nil
}

// PredictionCheck is one container's cause, after its termination, beside
// what was predicted for it.
type PredictionCheck struct {
	Predicted, Actual string
}

// queryer is a transaction or the read pool.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkPredictions holds each new summary's causes against what was
// predicted for the container, in the same transaction, so that a
// prediction and its summary in one batch are compared too.
func checkPredictions(ctx context.Context, tx *sql.Tx, rows []Row, isNew []bool) ([]PredictionCheck, error) {
	var out []PredictionCheck
	for i, r := range rows {
		if !isNew[i] || len(r.Causes) == 0 || r.UID == "" {
			continue
		}
		for name, actual := range r.Causes {
			predicted, ok, err := predictionOf(ctx, tx, r.UID, name)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, PredictionCheck{Predicted: predicted, Actual: actual})
			}
		}
	}
	return out, nil
}

// Predicted is the cause predicted for a pod's container before its
// termination; ok is false when none was.
func (s *Store) Predicted(ctx context.Context, uid, container string) (cause string, ok bool, err error) {
	return predictionOf(ctx, s.r, uid, container)
}

// predictionOf is what `kubectl graceline check` predicted for a pod's
// container: its latest readiness, judged again with the cause of the
// termination of its workload before its own (summary.PredictFrom), so
// that a handler found too slow once is predicted, and no miss, the next
// time.
func predictionOf(ctx context.Context, q queryer, uid, container string) (string, bool, error) {
	var predicted, lastCause string
	var body []byte
	err := q.QueryRowContext(ctx, `SELECT r.cause, r.body, COALESCE((SELECT o.cause FROM pods o
		WHERE o.namespace = p.namespace AND o.workload_kind = p.workload_kind AND `+sameHistory+`
		AND o.uid != p.uid AND o.del_ns > 0 AND o.del_ns < p.del_ns AND o.final_ns > 0
		ORDER BY o.del_ns DESC LIMIT 1), '')
		FROM readiness r JOIN pods p ON p.uid = r.uid WHERE r.uid = ? AND r.container = ?`, uid, container).Scan(&predicted, &body, &lastCause)
	if err == sql.ErrNoRows {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read prediction: %w", err)
	}
	if lastCause == "" {
		return predicted, true, nil
	}
	e := &apiv1.Event{}
	if err := proto.Unmarshal(body, e); err != nil {
		// The stored cause is the node's own reading of it.
		return predicted, true, nil
	}
	return summary.PredictFrom(e, lastCause).GetCause(), true, nil
}

// sameHistory is the one rule of whose past terminations are a pod's
// history, on pods o (the past) and p (the pod) of one namespace and
// workload kind: those of its owner workload, or, for a pod without one,
// those of pods of its name.
const sameHistory = `(CASE WHEN p.workload_kind = '' THEN o.name = p.name ELSE o.workload_name = p.workload_name END)`

// ReadinessRow is the latest termination_readiness of one container of a
// running pod.
type ReadinessRow struct {
	UID, Namespace, Pod, Container string
	Body                           []byte
}

// RunningReadiness returns the latest readiness of each container of the
// running pods, in namespace (all when empty) and of the pod named pod
// (all when empty), ordered by namespace, pod and container.
func (s *Store) RunningReadiness(ctx context.Context, namespace, pod string) ([]ReadinessRow, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT r.uid, p.namespace, p.name, r.container, r.body FROM readiness r JOIN pods p ON p.uid = r.uid
		WHERE `+running+` AND (?1 = '' OR p.namespace = ?1) AND (?2 = '' OR p.name = ?2)
		ORDER BY p.namespace, p.name, r.container`, namespace, pod)
	if err != nil {
		return nil, fmt.Errorf("read readiness: %w", err)
	}
	defer rows.Close()
	var out []ReadinessRow
	for rows.Next() {
		var r ReadinessRow
		if err := rows.Scan(&r.UID, &r.Namespace, &r.Pod, &r.Container, &r.Body); err != nil {
			return nil, fmt.Errorf("read readiness: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// maxHistory bounds the past terminations a history is computed from: the
// latest ones speak for a workload's present.
const maxHistory = 1000

// HistoryOf names whose past terminations a history is about: a workload
// of a namespace, or, with Kind empty, the pods of a namespace named Name
// that had no owner.
type HistoryOf struct {
	Namespace, Kind, Name string
}

// History is what past terminations went through: how many finished, how
// many of them needed SIGKILL, the p95 (nearest rank) of their delete
// request to removal, and the cause of the latest.
type History struct {
	Finished, Killed int64
	P95Ns            int64
	LastCause        string
}

// Histories sums up, for each history (see HistoryOf) of namespace (of
// every namespace when empty), its finished terminations whose delete was
// requested at or after sinceNs, the latest maxHistory of each. It reads
// the terminations once for every history a check or a scrape needs; a
// query per history would read them once for each.
func (s *Store) Histories(ctx context.Context, namespace string, sinceNs int64) (map[HistoryOf]History, error) {
	// The key is sameHistory's: the owner workload, or the pod's name for
	// a pod without one.
	rows, err := s.r.QueryContext(ctx, `SELECT namespace, workload_kind, CASE WHEN workload_kind = '' THEN name ELSE workload_name END,
		final_verdict, gone_ns - del_ns, cause FROM pods
		WHERE del_ns > 0 AND del_ns >= ?1 AND final_ns > 0 AND gone_ns >= del_ns AND (?2 = '' OR namespace = ?2)
		ORDER BY del_ns DESC`, sinceNs, namespace)
	if err != nil {
		return nil, fmt.Errorf("read histories: %w", err)
	}
	defer rows.Close()
	out := map[HistoryOf]History{}
	durations := map[HistoryOf][]int64{}
	for rows.Next() {
		var of HistoryOf
		var verdict, cause string
		var d int64
		if err := rows.Scan(&of.Namespace, &of.Kind, &of.Name, &verdict, &d, &cause); err != nil {
			return nil, fmt.Errorf("read histories: %w", err)
		}
		h := out[of]
		if h.Finished == maxHistory {
			continue
		}
		if h.Finished == 0 {
			h.LastCause = cause
		}
		h.Finished++
		if verdict == apiv1.VerdictKilled {
			h.Killed++
		}
		out[of] = h
		durations[of] = append(durations[of], d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read histories: %w", err)
	}
	for of, ds := range durations {
		slices.Sort(ds)
		h := out[of]
		h.P95Ns = ds[(len(ds)*95+99)/100-1]
		out[of] = h
	}
	return out, nil
}
