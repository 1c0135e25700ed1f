package store

import (
	"context"
	"fmt"
)

// purgeBatch bounds one delete transaction, so that ingest, which waits for
// the same write connection, is never held up for long.
const purgeBatch = 5000

// Purge deletes events older than beforeNs, and pods whose latest event is
// older, in small transactions. It returns how many events it deleted.
func (s *Store) Purge(ctx context.Context, beforeNs int64) (int64, error) {
	var total int64
	for {
		n, err := s.purgeOnce(ctx, beforeNs)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

func (s *Store) purgeOnce(ctx context.Context, beforeNs int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.w.ExecContext(ctx, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_ns < ? ORDER BY time_ns LIMIT ?)", beforeNs, purgeBatch)
	if err != nil {
		return 0, fmt.Errorf("purge events: %w", err)
	}
	n, _ := res.RowsAffected()
	if n < purgeBatch {
		if _, err := s.w.ExecContext(ctx, "DELETE FROM pods WHERE last_ns < ?", beforeNs); err != nil {
			return n, fmt.Errorf("purge pods: %w", err)
		}
		if _, err := s.w.ExecContext(ctx, "DELETE FROM readiness WHERE uid NOT IN (SELECT uid FROM pods)"); err != nil {
			return n, fmt.Errorf("purge readiness: %w", err)
		}
		// Every agent restart opens a stream; one left without events is
		// forgotten, so that neither the table nor the cache of stream ids
		// grows with the collector's age. An agent still on that epoch gets
		// a new id at its next insert, and with the events gone there is
		// nothing it could be a duplicate of.
		res, err := s.w.ExecContext(ctx, "DELETE FROM streams WHERE NOT (node = '' AND epoch = 0) AND id NOT IN (SELECT stream FROM events)")
		if err != nil {
			return n, fmt.Errorf("purge streams: %w", err)
		}
		if gone, _ := res.RowsAffected(); gone > 0 {
			clear(s.streams)
		}
	}
	return n, nil
}
