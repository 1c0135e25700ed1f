package store

import (
	"context"
	"database/sql"
	"fmt"

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

// PredictedKills counts, by namespace, the containers of running pods
// whose latest readiness predicts a SIGKILL.
func (s *Store) PredictedKills(ctx context.Context) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT r.namespace, count(*) FROM readiness r JOIN pods p ON p.uid = r.uid
		WHERE r.outcome = ? AND `+running+` GROUP BY r.namespace`, apiv1.VerdictKilled)
	if err != nil {
		return nil, fmt.Errorf("count predicted kills: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var ns string
		var n int
		if err := rows.Scan(&ns, &n); err != nil {
			return nil, fmt.Errorf("read predicted kills: %w", err)
		}
		out[ns] = n
	}
	return out, rows.Err()
}

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
// what its last readiness predicted.
type PredictionCheck struct {
	Predicted, Actual string
}

// checkPredictions holds each new summary's causes against the latest
// prediction stored for the container, in the same transaction, so that a
// prediction and its summary in one batch are compared too.
func checkPredictions(ctx context.Context, tx *sql.Tx, rows []Row, isNew []bool) ([]PredictionCheck, error) {
	var out []PredictionCheck
	for i, r := range rows {
		if !isNew[i] || len(r.Causes) == 0 || r.UID == "" {
			continue
		}
		for name, actual := range r.Causes {
			var predicted string
			err := tx.QueryRowContext(ctx, `SELECT cause FROM readiness WHERE uid = ? AND container = ?`, r.UID, name).Scan(&predicted)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read prediction: %w", err)
			}
			out = append(out, PredictionCheck{Predicted: predicted, Actual: actual})
		}
	}
	return out, nil
}
