package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// The collector's cluster side asks these: which deletions it has not
// finished with, and what the node (rather than the collector itself) said
// about a pod.

// OpenDeletions lists pods whose deletion the API reported and for which no
// final summary is stored yet: those still deleting, and those gone whose
// summary waits.
func (s *Store) OpenDeletions(ctx context.Context) ([]Pod, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+podColumns+" FROM pods WHERE del_ns > 0 AND final_ns = 0 ORDER BY del_ns")
	if err != nil {
		return nil, fmt.Errorf("list open deletions: %w", err)
	}
	return scanPods(rows)
}

// nodeStreams selects the agents' streams: all but the cluster stream.
const nodeStreams = "stream NOT IN (SELECT id FROM streams WHERE node = '' AND epoch = 0)"

// LatestNodeEvent returns the pod's newest event of kind from an agent.
func (s *Store) LatestNodeEvent(ctx context.Context, uid, kind string) ([]byte, error) {
	var b []byte
	err := s.r.QueryRowContext(ctx, "SELECT body FROM events WHERE uid = ? AND kind = ? AND "+nodeStreams+" ORDER BY time_ns DESC LIMIT 1", uid, kind).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s of pod %s from its node: %w", kind, uid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("query %s of pod %s from its node: %w", kind, uid, err)
	}
	return b, nil
}

// FirstNodeEvent returns the pod's earliest agent event of one of kinds at
// or after sinceNs.
func (s *Store) FirstNodeEvent(ctx context.Context, uid string, sinceNs int64, kinds ...string) ([]byte, error) {
	if len(kinds) == 0 {
		return nil, errors.New("first node event: no kinds given")
	}
	args := []any{uid, sinceNs}
	for _, k := range kinds {
		args = append(args, k)
	}
	q := "SELECT body FROM events WHERE uid = ? AND time_ns >= ? AND kind IN (?" + strings.Repeat(",?", len(kinds)-1) + ") AND " + nodeStreams + " ORDER BY time_ns LIMIT 1"
	var b []byte
	err := s.r.QueryRowContext(ctx, q, args...).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("node events of pod %s: %w", uid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("query node events of pod %s: %w", uid, err)
	}
	return b, nil
}

// ClusterEvents returns the encoded events the collector's own watches
// stored for the pod, in time order.
func (s *Store) ClusterEvents(ctx context.Context, uid string) ([][]byte, error) {
	return s.bodies(ctx, "cluster events of pod "+uid, "SELECT body FROM events WHERE uid = ? AND NOT "+nodeStreams+" ORDER BY time_ns, seq", uid)
}
