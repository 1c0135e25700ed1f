// Package store keeps the collector's events in SQLite (modernc.org/sqlite,
// pure Go) in WAL mode. Events are stored idempotently on their delivery key
// (node, agent epoch, sequence number), so a batch sent twice is stored once.
// Beside the events, one row per pod sums up what is known of it, which is
// what per-pod, listing and stuck queries start from.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// schema is applied in order; user_version records how far a database got.
var schema = []string{
	`CREATE TABLE streams (
		id    INTEGER PRIMARY KEY,
		node  TEXT NOT NULL,
		epoch INTEGER NOT NULL,
		UNIQUE (node, epoch)
	)`,
	`CREATE TABLE events (
		id      INTEGER PRIMARY KEY,
		stream  INTEGER NOT NULL,
		seq     INTEGER NOT NULL,
		time_ns INTEGER NOT NULL,
		kind    TEXT NOT NULL,
		uid     TEXT NOT NULL,
		body    BLOB NOT NULL
	)`,
	// The delivery key: (stream, seq) names one record of one agent run.
	`CREATE UNIQUE INDEX events_key ON events (stream, seq)`,
	// A pod's timeline.
	`CREATE INDEX events_uid ON events (uid, time_ns)`,
	// Time ranges and retention.
	`CREATE INDEX events_time ON events (time_ns)`,
	`CREATE TABLE pods (
		uid       TEXT PRIMARY KEY,
		namespace TEXT NOT NULL,
		name      TEXT NOT NULL,
		node      TEXT NOT NULL,
		first_ns  INTEGER NOT NULL,
		last_ns   INTEGER NOT NULL,
		term_ns   INTEGER NOT NULL DEFAULT 0,
		end_ns    INTEGER NOT NULL DEFAULT 0,
		stuck_ns  INTEGER NOT NULL DEFAULT 0
	) WITHOUT ROWID`,
	`CREATE INDEX pods_name ON pods (namespace, name, last_ns)`,
	`CREATE INDEX pods_last ON pods (last_ns)`,
	`CREATE INDEX pods_stuck ON pods (stuck_ns) WHERE stuck_ns > 0`,
	// The cluster side: when the API was asked to delete the pod, when the
	// object went, and when the collector stored its final summary.
	`ALTER TABLE pods ADD COLUMN del_ns INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE pods ADD COLUMN gone_ns INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE pods ADD COLUMN final_ns INTEGER NOT NULL DEFAULT 0`,
	`CREATE INDEX pods_open ON pods (del_ns) WHERE del_ns > 0 AND final_ns = 0`,
	// What the per-workload report counts: the delete request's initiator
	// and owner workload, and the final summary's verdict, traffic risk
	// and the cause (with its advice) that speaks for the pod.
	`ALTER TABLE pods ADD COLUMN initiator TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE pods ADD COLUMN workload_kind TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE pods ADD COLUMN workload_name TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE pods ADD COLUMN final_verdict TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE pods ADD COLUMN traffic_risk INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE pods ADD COLUMN cause TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE pods ADD COLUMN advice TEXT NOT NULL DEFAULT ''`,
	`CREATE INDEX pods_workload ON pods (del_ns, namespace) WHERE workload_kind != ''`,
	// The OTLP export: the events that make a trace (summaries and stuck
	// reports), found by their row id past the export cursor, which is the
	// id of the last one handled. A partial index, so that ingest of the
	// other kinds pays nothing for it.
	`CREATE INDEX events_traces ON events (id) WHERE kind IN ('termination_summary', 'container_summary', 'stuck')`,
	`CREATE TABLE export_cursor (
		name     TEXT PRIMARY KEY,
		event_id INTEGER NOT NULL
	) WITHOUT ROWID`,
	// The latest termination_readiness of each container of a pod, by
	// the container's name: what `kubectl graceline check` and the
	// predicted-kill gauge answer from.
	`CREATE TABLE readiness (
		uid       TEXT NOT NULL,
		container TEXT NOT NULL,
		namespace TEXT NOT NULL,
		time_ns   INTEGER NOT NULL,
		outcome   TEXT NOT NULL,
		cause     TEXT NOT NULL,
		body      BLOB NOT NULL,
		PRIMARY KEY (uid, container)
	) WITHOUT ROWID`,
}

// Store is the collector's database. Writes go through one connection, one
// transaction at a time; reads use a pool of read-only connections, which
// WAL lets run beside the writer.
type Store struct {
	path string
	w    *sql.DB
	r    *sql.DB

	mu      sync.Mutex // serialises write transactions
	streams map[streamKey]int64
}

type streamKey struct {
	node  string
	epoch int64
}

// Open opens or creates the database at path and brings its schema up to
// date.
func Open(ctx context.Context, path string) (*Store, error) {
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	s := &Store{path: path, w: w, streams: map[streamKey]int64{}}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	s.r = r
	return s, nil
}

// dsn builds the connection string. synchronous=FULL makes a commit durable
// before the collector acknowledges it, which is what lets an agent forget.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

func (s *Store) migrate(ctx context.Context) error {
	var version int
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read store schema version: %w", err)
	}
	if version > len(schema) {
		return fmt.Errorf("store %s has schema version %d, newer than this collector's %d", s.path, version, len(schema))
	}
	if version == len(schema) {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin schema update: %w", err)
	}
	defer tx.Rollback()
	for _, stmt := range schema[version:] {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("update store schema: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(schema))); err != nil {
		return fmt.Errorf("record store schema version: %w", err)
	}
	return tx.Commit()
}

// Ping checks that the database answers, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("query store: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	rerr := s.r.Close()
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return rerr
}
