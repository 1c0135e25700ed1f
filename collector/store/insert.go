package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Row is one event as the store keeps it: its delivery key, the fields it
// is found by, and the encoded event exactly as the agent sent it.
type Row struct {
	Node      string
	Epoch     int64
	Seq       int64
	TimeNs    int64
	Kind      string
	Namespace string
	Name      string
	UID       string
	// Verdict is a termination_summary's verdict, which decides whether it
	// ends the pod's termination or reports it stuck.
	Verdict string
	Body    []byte
	// Cluster marks an event of the collector's own API watches. Those share
	// one stream, whatever Node (the pod's node) says, and Seq is a hash of
	// what the event is about, so that seeing it again stores nothing.
	Cluster bool
	// Report holds what a cluster event tells the per-workload report;
	// agents' rows never set it.
	Report ReportFacts
	// Readiness holds what a termination_readiness predicts; other kinds
	// never set it.
	Readiness ReadinessFacts
	// Causes are a summary's causes by container name, held against the
	// container's last prediction when the summary is new.
	Causes map[string]string
}

// ReadinessFacts are what the store keeps of a termination_readiness
// beside its body: the container it is about and what it predicts.
type ReadinessFacts struct {
	Container, Outcome, Cause string
}

// ReportFacts are what the per-workload report reads from the cluster
// side's events: a delete request's initiator and owner workload, and a
// final summary's traffic risk and the cause that speaks for the pod.
type ReportFacts struct {
	Initiator                  string
	WorkloadKind, WorkloadName string
	TrafficRisk                bool
	Cause, Advice              string
}

// clusterStream is the delivery key's stream of cluster events; no agent has
// an empty node name or epoch 0.
var clusterStream = streamKey{}

func (r *Row) stream() streamKey {
	if r.Cluster {
		return clusterStream
	}
	return streamKey{r.Node, r.Epoch}
}

// InsertResult says what an Insert did with each row.
type InsertResult struct {
	// New[i] is true when rows[i] was not stored before.
	New        []bool
	Stored     int
	Duplicates int
	// Conflicts are the indexes of agents' rows whose delivery key was
	// already stored with a different body. The first body is kept: a
	// resend is byte for byte the same, so another body means a bug or a
	// forgery, never news.
	Conflicts []int
	// IdentityConflicts counts agents' rows that named a pod already known
	// under another namespace or name. A pod's UID never changes its
	// identity, so the first one (or the API's) is kept.
	IdentityConflicts int
	// Checks are the new summaries' causes held against the predictions
	// stored for their containers.
	Checks []PredictionCheck
}

// chunk is how many rows one INSERT statement carries; one statement per
// row costs several times more in SQLite's virtual machine setup.
const chunk = 100

const insertHead = "INSERT INTO events (stream, seq, time_ns, kind, uid, body) VALUES "
const insertTail = " ON CONFLICT (stream, seq) DO NOTHING RETURNING stream, seq"

// Insert stores rows in one transaction, skipping those whose delivery key
// is already stored. When it returns without error, the rows are durable.
func (s *Store) Insert(ctx context.Context, rows []Row) (InsertResult, error) {
	res := InsertResult{New: make([]bool, len(rows))}
	if len(rows) == 0 {
		return res, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("begin insert: %w", err)
	}
	defer tx.Rollback()
	ids, fresh, err := s.streamIDs(ctx, tx, rows)
	if err != nil {
		return res, err
	}
	full, err := tx.PrepareContext(ctx, insertSQL(chunk))
	if err != nil {
		return res, fmt.Errorf("prepare insert: %w", err)
	}
	defer full.Close()
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		stmt := full
		if end-start < chunk {
			if stmt, err = tx.PrepareContext(ctx, insertSQL(end-start)); err != nil {
				return res, fmt.Errorf("prepare insert: %w", err)
			}
			defer stmt.Close()
		}
		if err := insertChunk(ctx, stmt, rows[start:end], ids, res.New[start:end]); err != nil {
			return res, err
		}
	}
	if res.Conflicts, err = conflicts(ctx, tx, rows, ids, res.New); err != nil {
		return res, err
	}
	if res.IdentityConflicts, err = upsertPods(ctx, tx, rows); err != nil {
		return res, err
	}
	if err := upsertReadiness(ctx, tx, rows); err != nil {
		return res, err
	}
	if res.Checks, err = checkPredictions(ctx, tx, rows, res.New); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit insert: %w", err)
	}
	// Only a committed stream id may be remembered.
	for k, id := range fresh {
		s.streams[k] = id
	}
	for _, n := range res.New {
		if n {
			res.Stored++
		}
	}
	res.Duplicates = len(rows) - res.Stored
	return res, nil
}

func insertSQL(n int) string {
	return insertHead + strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?),", n), ",") + insertTail
}

func insertChunk(ctx context.Context, stmt *sql.Stmt, rows []Row, ids map[streamKey]int64, isNew []bool) error {
	type key struct{ stream, seq int64 }
	where := make(map[key]int, len(rows))
	args := make([]any, 0, 6*len(rows))
	for i, r := range rows {
		id := ids[r.stream()]
		if _, seen := where[key{id, r.Seq}]; !seen {
			where[key{id, r.Seq}] = i // the first of repeated keys is the one stored
		}
		args = append(args, id, r.Seq, r.TimeNs, r.Kind, r.UID, r.Body)
	}
	res, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var k key
		if err := res.Scan(&k.stream, &k.seq); err != nil {
			return fmt.Errorf("read inserted keys: %w", err)
		}
		if i, ok := where[k]; ok {
			isNew[i] = true
		}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return nil
}

// conflicts returns the indexes of agents' rows that were not stored
// because their key was, with a different body. Only duplicates are read
// back, and those are rare: a resend after a broken stream.
func conflicts(ctx context.Context, tx *sql.Tx, rows []Row, ids map[streamKey]int64, isNew []bool) ([]int, error) {
	var out []int
	for i, r := range rows {
		if isNew[i] || r.Cluster {
			continue
		}
		var body []byte
		err := tx.QueryRowContext(ctx, "SELECT body FROM events WHERE stream = ? AND seq = ?", ids[r.stream()], r.Seq).Scan(&body)
		if err != nil {
			return nil, fmt.Errorf("read stored event %s/%d/%d: %w", r.Node, r.Epoch, r.Seq, err)
		}
		if !bytes.Equal(body, r.Body) {
			out = append(out, i)
		}
	}
	return out, nil
}

// streamIDs maps each (node, epoch) of rows to its stream id, creating
// streams not seen before. fresh holds the ids created or looked up in this
// transaction, for the cache once it commits.
func (s *Store) streamIDs(ctx context.Context, tx *sql.Tx, rows []Row) (ids, fresh map[streamKey]int64, err error) {
	ids, fresh = map[streamKey]int64{}, map[streamKey]int64{}
	for _, r := range rows {
		k := r.stream()
		if _, ok := ids[k]; ok {
			continue
		}
		if id, ok := s.streams[k]; ok {
			ids[k] = id
			continue
		}
		var id int64
		err := tx.QueryRowContext(ctx,
			`INSERT INTO streams (node, epoch) VALUES (?, ?)
			 ON CONFLICT (node, epoch) DO UPDATE SET node = excluded.node
			 RETURNING id`, k.node, k.epoch).Scan(&id)
		if err != nil {
			return nil, nil, fmt.Errorf("register stream %s/%d: %w", k.node, k.epoch, err)
		}
		ids[k], fresh[k] = id, id
	}
	return ids, fresh, nil
}

// podSum is what one batch says about one pod.
type podSum struct {
	namespace, name, node       string
	first, last, term, end, stk int64
	del, gone, final            int64
	// api: the batch comes from the collector's own API watches, whose
	// word on a pod's identity is final.
	api bool
	// The report's facts: from the delete request, and from the final
	// summary with its verdict.
	report       ReportFacts
	finalVerdict string
	finalRisk    bool
}

// upsertPods folds the batch into the per-pod rows. Every column is a
// minimum or maximum, so folding a resent batch again changes nothing. A
// pod's namespace, name and node are set once; only the API may correct
// them, so that no agent can rename or hide another's pod. It returns how
// many pods an agent's rows named otherwise than the store knows them.
func upsertPods(ctx context.Context, tx *sql.Tx, rows []Row) (int, error) {
	pods := map[string]*podSum{}
	var order []string
	for _, r := range rows {
		if r.UID == "" {
			continue
		}
		p, ok := pods[r.UID]
		if !ok {
			p = &podSum{namespace: r.Namespace, name: r.Name, node: r.Node, first: r.TimeNs, last: r.TimeNs, api: r.Cluster}
			pods[r.UID] = p
			order = append(order, r.UID)
		}
		p.first, p.last = min(p.first, r.TimeNs), max(p.last, r.TimeNs)
		if apiv1.StartsTermination(r.Kind) && (p.term == 0 || r.TimeNs < p.term) {
			p.term = r.TimeNs
		}
		if apiv1.EndsTermination(r.Kind, r.Verdict) {
			p.end = max(p.end, r.TimeNs)
		}
		if apiv1.ReportsStuck(r.Kind, r.Verdict) {
			p.stk = max(p.stk, r.TimeNs)
		}
		if r.Cluster {
			switch r.Kind {
			case apiv1.KindDeleteRequested:
				if p.del == 0 || r.TimeNs < p.del {
					p.del = r.TimeNs
				}
				p.report.Initiator = r.Report.Initiator
				p.report.WorkloadKind, p.report.WorkloadName = r.Report.WorkloadKind, r.Report.WorkloadName
			case apiv1.KindPodDeleted:
				p.gone = max(p.gone, r.TimeNs)
			case apiv1.KindTerminationSummary:
				p.final = max(p.final, r.TimeNs)
				p.finalVerdict, p.finalRisk = r.Verdict, r.Report.TrafficRisk
				p.report.Cause, p.report.Advice = r.Report.Cause, r.Report.Advice
			}
		}
	}
	if len(pods) == 0 {
		return 0, nil
	}
	// The report's columns take a cluster row's non-empty values: only the
	// collector's own events carry them, one delete request and one final
	// summary per pod.
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO pods (uid, namespace, name, node, first_ns, last_ns, term_ns, end_ns, stuck_ns, del_ns, gone_ns, final_ns,
			initiator, workload_kind, workload_name, final_verdict, traffic_risk, cause, advice)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
		ON CONFLICT (uid) DO UPDATE SET
			namespace = CASE WHEN excluded.namespace != '' AND (?13 OR namespace = '') THEN excluded.namespace ELSE namespace END,
			name      = CASE WHEN excluded.name != '' AND (?13 OR name = '') THEN excluded.name ELSE name END,
			node      = CASE WHEN excluded.node != '' AND (?13 OR node = '') THEN excluded.node ELSE node END,
			first_ns  = min(first_ns, excluded.first_ns),
			last_ns   = max(last_ns, excluded.last_ns),
			term_ns   = CASE WHEN term_ns = 0 THEN excluded.term_ns
			                 WHEN excluded.term_ns = 0 THEN term_ns
			                 ELSE min(term_ns, excluded.term_ns) END,
			end_ns    = max(end_ns, excluded.end_ns),
			stuck_ns  = max(stuck_ns, excluded.stuck_ns),
			del_ns    = CASE WHEN del_ns = 0 THEN excluded.del_ns
			                 WHEN excluded.del_ns = 0 THEN del_ns
			                 ELSE min(del_ns, excluded.del_ns) END,
			gone_ns   = max(gone_ns, excluded.gone_ns),
			final_ns  = max(final_ns, excluded.final_ns),
			initiator     = CASE WHEN excluded.initiator != '' THEN excluded.initiator ELSE initiator END,
			workload_kind = CASE WHEN excluded.workload_kind != '' THEN excluded.workload_kind ELSE workload_kind END,
			workload_name = CASE WHEN excluded.workload_name != '' THEN excluded.workload_name ELSE workload_name END,
			final_verdict = CASE WHEN excluded.final_verdict != '' THEN excluded.final_verdict ELSE final_verdict END,
			traffic_risk  = CASE WHEN excluded.final_verdict != '' THEN excluded.traffic_risk ELSE traffic_risk END,
			cause         = CASE WHEN excluded.final_verdict != '' THEN excluded.cause ELSE cause END,
			advice        = CASE WHEN excluded.final_verdict != '' THEN excluded.advice ELSE advice END
		RETURNING namespace, name, node`)
	if err != nil {
		return 0, fmt.Errorf("prepare pod update: %w", err)
	}
	defer stmt.Close()
	var mismatched int
	for _, uid := range order {
		p := pods[uid]
		var ns, name, node string
		err := stmt.QueryRowContext(ctx, uid, p.namespace, p.name, p.node, p.first, p.last, p.term, p.end, p.stk, p.del, p.gone, p.final, p.api,
			p.report.Initiator, p.report.WorkloadKind, p.report.WorkloadName, p.finalVerdict, p.finalRisk, p.report.Cause, p.report.Advice).Scan(&ns, &name, &node)
		if err != nil {
			return 0, fmt.Errorf("update pod %s: %w", uid, err)
		}
		if differs(p.namespace, ns) || differs(p.name, name) || differs(p.node, node) {
			mismatched++
		}
	}
	return mismatched, nil
}

// differs tells whether a row named a value other than the one kept.
func differs(said, kept string) bool { return said != "" && said != kept }
