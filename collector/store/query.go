package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is returned when no pod matches.
var ErrNotFound = errors.New("not found")

// Pod is what the store knows of one pod: who it is, and when its events,
// its termination, its end and its latest stuck report happened (Unix
// nanoseconds; 0 for never).
type Pod struct {
	UID, Namespace, Name, Node string
	FirstNs, LastNs            int64
	TermNs, EndNs, StuckNs     int64
	// The cluster side: delete requested, object gone, final summary stored.
	DeleteNs, GoneNs, FinalNs int64
}

// Filter narrows pod listings. Empty fields match everything.
type Filter struct {
	Namespace, Node string
	// SinceNs keeps pods whose latest event is at or after it.
	SinceNs int64
	Limit   int
	Offset  int
}

const podColumns = "uid, namespace, name, node, first_ns, last_ns, term_ns, end_ns, stuck_ns, del_ns, gone_ns, final_ns"

func scanPods(rows *sql.Rows) ([]Pod, error) {
	defer rows.Close()
	var out []Pod
	for rows.Next() {
		var p Pod
		if err := rows.Scan(&p.UID, &p.Namespace, &p.Name, &p.Node, &p.FirstNs, &p.LastNs, &p.TermNs, &p.EndNs, &p.StuckNs, &p.DeleteNs, &p.GoneNs, &p.FinalNs); err != nil {
			return nil, fmt.Errorf("read pod: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pods: %w", err)
	}
	return out, nil
}

// LatestPod returns the most recent incarnation of namespace/name, the one
// with the latest event.
func (s *Store) LatestPod(ctx context.Context, namespace, name string) (Pod, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+podColumns+" FROM pods WHERE namespace = ? AND name = ? ORDER BY last_ns DESC LIMIT 1", namespace, name)
	if err != nil {
		return Pod{}, fmt.Errorf("find pod %s/%s: %w", namespace, name, err)
	}
	pods, err := scanPods(rows)
	if err != nil {
		return Pod{}, err
	}
	if len(pods) == 0 {
		return Pod{}, fmt.Errorf("pod %s/%s: %w", namespace, name, ErrNotFound)
	}
	return pods[0], nil
}

// PodByUID returns the pod with the given UID.
func (s *Store) PodByUID(ctx context.Context, uid string) (Pod, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+podColumns+" FROM pods WHERE uid = ?", uid)
	if err != nil {
		return Pod{}, fmt.Errorf("find pod %s: %w", uid, err)
	}
	pods, err := scanPods(rows)
	if err != nil {
		return Pod{}, err
	}
	if len(pods) == 0 {
		return Pod{}, fmt.Errorf("pod uid %s: %w", uid, ErrNotFound)
	}
	return pods[0], nil
}

// PodEvents returns the encoded events of one pod in time order; events at
// the same instant keep the order their agent produced them in.
func (s *Store) PodEvents(ctx context.Context, uid string) ([][]byte, error) {
	return s.bodies(ctx, "events of pod "+uid, "SELECT body FROM events WHERE uid = ? ORDER BY time_ns, stream, seq", uid)
}

// bodies runs a query whose rows are encoded events; what names them in
// errors.
func (s *Store) bodies(ctx context.Context, what, q string, args ...any) ([][]byte, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", what, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return out, nil
}

// LatestOfKind returns the pod's newest event of kind.
func (s *Store) LatestOfKind(ctx context.Context, uid, kind string) ([]byte, error) {
	var b []byte
	err := s.r.QueryRowContext(ctx, "SELECT body FROM events WHERE uid = ? AND kind = ? ORDER BY time_ns DESC LIMIT 1", uid, kind).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s of pod %s: %w", kind, uid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("query %s of pod %s: %w", kind, uid, err)
	}
	return b, nil
}

// Terminations lists pods whose termination began, latest activity first.
func (s *Store) Terminations(ctx context.Context, f Filter) ([]Pod, error) {
	return s.pods(ctx, "term_ns > 0", "last_ns DESC", f)
}

// StuckPods lists pods whose latest stuck report is newer than any sign
// that they are gone.
func (s *Store) StuckPods(ctx context.Context, f Filter) ([]Pod, error) {
	return s.pods(ctx, stuckNow, "stuck_ns DESC", f)
}

func (s *Store) pods(ctx context.Context, cond, order string, f Filter) ([]Pod, error) {
	where, args := []string{cond}, []any{}
	if f.Namespace != "" {
		where, args = append(where, "namespace = ?"), append(args, f.Namespace)
	}
	if f.Node != "" {
		where, args = append(where, "node = ?"), append(args, f.Node)
	}
	if f.SinceNs > 0 {
		where, args = append(where, "last_ns >= ?"), append(args, f.SinceNs)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	q := "SELECT " + podColumns + " FROM pods WHERE " + strings.Join(where, " AND ") + " ORDER BY " + order + " LIMIT ? OFFSET ?"
	rows, err := s.r.QueryContext(ctx, q, append(args, limit, f.Offset)...)
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	return scanPods(rows)
}

// CountEvents returns how many events are stored.
func (s *Store) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}
