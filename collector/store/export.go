package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// TraceEvent is a stored event that may make a trace: a summary (of a pod's
// termination or of a container's) or a stuck report. ID is its row id,
// which orders events as they were stored and is what an export cursor
// holds.
type TraceEvent struct {
	ID     int64
	UID    string
	Kind   string
	TimeNs int64
	Body   []byte
}

// traceKinds are the kinds of the events_traces index; a query must name
// them literally, in the same way, for SQLite to use it.
const traceKinds = "kind IN ('" + apiv1.KindTerminationSummary + "', '" + apiv1.KindContainerSummary + "', '" + apiv1.KindStuck + "')"

// TraceEventsAfter returns at most limit trace events stored after the row
// id after, in the order they were stored.
func (s *Store) TraceEventsAfter(ctx context.Context, after int64, limit int) ([]TraceEvent, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, uid, kind, time_ns, body FROM events WHERE id > ? AND "+traceKinds+" ORDER BY id LIMIT ?", after, limit)
	if err != nil {
		return nil, fmt.Errorf("list trace events: %w", err)
	}
	defer rows.Close()
	var out []TraceEvent
	for rows.Next() {
		var e TraceEvent
		if err := rows.Scan(&e.ID, &e.UID, &e.Kind, &e.TimeNs, &e.Body); err != nil {
			return nil, fmt.Errorf("read trace event: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list trace events: %w", err)
	}
	return out, nil
}

// EarlierStuckReport says whether the pod uid has a stuck report stored
// before the row id before: the first report of a hang is the one that
// opens it.
func (s *Store) EarlierStuckReport(ctx context.Context, uid string, before int64) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, "SELECT 1 FROM events WHERE uid = ? AND kind = ? AND id < ? LIMIT 1", uid, apiv1.KindStuck, before).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for earlier stuck reports of pod %s: %w", uid, err)
	}
	return true, nil
}

// ExportCursor returns the row id up to which the export name has handled
// trace events; 0 when it has handled none.
func (s *Store) ExportCursor(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, "SELECT event_id FROM export_cursor WHERE name = ?", name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read export cursor %s: %w", name, err)
	}
	return id, nil
}

// SetExportCursor durably records that the export name has handled every
// trace event up to the row id id. It may move the cursor back: the events
// past it are then exported again, as the same traces.
func (s *Store) SetExportCursor(ctx context.Context, name string, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.ExecContext(ctx, `INSERT INTO export_cursor (name, event_id) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id`, name, id); err != nil {
		return fmt.Errorf("write export cursor %s: %w", name, err)
	}
	return nil
}
