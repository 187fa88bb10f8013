package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard/switchyard/engine"
)

// newIDs hands out a sequence number from the sequence every node shares.
func newID(ctx context.Context, tx pgx.Tx) (int64, error) {
	var seq int64
	err := tx.QueryRow(ctx, `SELECT nextval('sy_ids')`).Scan(&seq)
	return seq, err
}

// insertRun writes a new run with seq as its id, and its queue job.
func (s *Store) insertRun(ctx context.Context, tx pgx.Tx, seq, eventSeq int64, r *engine.Run) error {
	return s.insertRunTerms(ctx, tx, seq, eventSeq, r, nil)
}

// searchTerms are the search terms of a run and its event (nil: unknown),
// never nil.
func searchTerms(ev *engine.Event, r *engine.Run) []string {
	if t := engine.SearchTerms(ev, r); t != nil {
		return t
	}
	return []string{}
}

// insertRunTerms is insertRun with the event the run's search terms come
// from.
func (s *Store) insertRunTerms(ctx context.Context, tx pgx.Tx, seq, eventSeq int64, r *engine.Run, ev *engine.Event) error {
	args, err := runRowArgs(seq, eventSeq, r, ev)
	if err != nil {
		return err
	}
	if _, err = tx.Exec(ctx, insertRunSQL, args...); err != nil {
		return err
	}
	if r.Status.Final() {
		return nil
	}
	return s.enqueue(ctx, tx, r.ID, dueOf(r))
}

const insertRunSQL = `INSERT INTO sy_runs (seq, flow_id, event_seq, status, final, created_ns, due_ns, retry_of, replay_of, summary, data, terms)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

// runRowArgs names r by seq and returns the arguments of insertRunSQL,
// the search terms taken from ev.
func runRowArgs(seq, eventSeq int64, r *engine.Run, ev *engine.Event) ([]any, error) {
	r.ID = formatID(runIDPrefix, seq)
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	sum := r.Summary()
	sumData, err := json.Marshal(&sum)
	if err != nil {
		return nil, err
	}
	retryOf, replayOf := optSeq(r.RetryOf), optSeq(r.ReplayOf)
	return []any{seq, r.FlowID, eventSeq, string(r.Status), r.Status.Final(), nanos(r.CreatedAt), dueNanos(r), retryOf, replayOf, sumData, data, searchTerms(ev, r)}, nil
}

const insertEventSQL = `INSERT INTO sy_events (seq, flow_id, data) VALUES ($1, $2, $3)`

// insertEventAndRun writes a new event and its first run, which share a
// sequence number.
func (s *Store) insertEventAndRun(ctx context.Context, tx pgx.Tx, seq int64, ev *engine.Event, r *engine.Run) error {
	ev.ID = formatID(eventIDPrefix, seq)
	r.EventID = ev.ID
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, insertEventSQL, seq, ev.FlowID, data); err != nil {
		return err
	}
	return s.insertRunTerms(ctx, tx, seq, seq, r, ev)
}

func optSeq(id string) *int64 {
	if id == "" {
		return nil
	}
	seq, err := parseID(runIDPrefix, id)
	if err != nil {
		return nil
	}
	return &seq
}

func dueOf(r *engine.Run) time.Time {
	if r.DueAt == nil {
		return time.Time{}
	}
	return *r.DueAt
}

func dueNanos(r *engine.Run) int64 { return nanos(dueOf(r)) }

// claimSQL claims an event's dedupe key for the run numbered $3 unless a
// run claimed it within its window; no row: a duplicate, named by dupSQL.
const claimSQL = `INSERT INTO sy_dedupe (flow_id, key, run_seq, expires_ns) VALUES ($1, $2, $3, $4)
	ON CONFLICT (flow_id, key) DO UPDATE SET run_seq = EXCLUDED.run_seq, expires_ns = EXCLUDED.expires_ns
	WHERE sy_dedupe.expires_ns <= $5
	RETURNING run_seq`

const dupSQL = `SELECT run_seq FROM sy_dedupe WHERE flow_id = $1 AND key = $2`

func claimArgs(e *engine.Event, seq int64, window time.Duration) []any {
	return []any{e.FlowID, e.DedupeKey, seq, nanos(e.ReceivedAt.Add(window)), nanos(e.ReceivedAt)}
}

// acceptOne is Accept in a transaction of its own: the event, its run and
// the run's job, committed before it returns. A dedupe key is claimed
// first, through the key's primary key, so two nodes taking the same
// delivery at once make one run.
func (s *Store) acceptOne(ctx context.Context, ev *engine.Event, run *engine.Run, window time.Duration) (engine.AcceptResult, error) {
	e, r := *ev, *run
	var res engine.AcceptResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		seq, err := newID(ctx, tx)
		if err != nil {
			return err
		}
		if e.DedupeKey != "" {
			var first int64
			err := tx.QueryRow(ctx, claimSQL, claimArgs(&e, seq, window)...).Scan(&first)
			if errors.Is(err, pgx.ErrNoRows) {
				// Seen within its window: name the first run, store nothing.
				if err := tx.QueryRow(ctx, dupSQL, e.FlowID, e.DedupeKey).Scan(&first); err != nil {
					return err
				}
				res = engine.AcceptResult{RunID: formatID(runIDPrefix, first), Duplicate: true}
				return nil
			}
			if err != nil {
				return err
			}
		}
		if err := s.insertEventAndRun(ctx, tx, seq, &e, &r); err != nil {
			return err
		}
		res = engine.AcceptResult{RunID: r.ID, EventID: e.ID}
		return nil
	})
	return res, err
}

// AddRun implements engine.RunStore.
func (s *Store) AddRun(ctx context.Context, run *engine.Run) error {
	r := *run
	err := s.tx(ctx, func(tx pgx.Tx) error {
		evSeq, err := parseID(eventIDPrefix, r.EventID)
		if err != nil {
			return err
		}
		var evData []byte
		err = tx.QueryRow(ctx, `SELECT data FROM sy_events WHERE seq = $1`, evSeq).Scan(&evData)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("event %s: %w", r.EventID, engine.ErrNotFound)
		}
		if err != nil {
			return err
		}
		// The new run is found by its event's words, like the first.
		ev := &engine.Event{}
		if json.Unmarshal(evData, ev) != nil {
			ev = nil
		}
		seq, err := newID(ctx, tx)
		if err != nil {
			return err
		}
		return s.insertRunTerms(ctx, tx, seq, evSeq, &r, ev)
	})
	if err != nil {
		return fmt.Errorf("store: add run for event %s: %w", run.EventID, unavailable(err))
	}
	run.ID = r.ID
	return nil
}

// SaveRun implements engine.RunStore. The row changes only while it is not
// final, checked by the update itself, so two nodes can never both finish
// a run. A success of a retry or replay resolves the failed runs it came
// from in the same transaction; the nodes hear of the change through
// NOTIFY (notify.go) once it commits.
func (s *Store) SaveRun(ctx context.Context, run *engine.Run) error {
	seq, err := parseID(runIDPrefix, run.ID)
	if err != nil {
		return fmt.Errorf("store: save run: %w", err)
	}
	data, err := json.Marshal(run)
	if err != nil {
		return fmt.Errorf("store: save run %s: %w", run.ID, err)
	}
	sum := run.Summary()
	sumData, err := json.Marshal(&sum)
	if err != nil {
		return fmt.Errorf("store: save run %s: %w", run.ID, err)
	}
	final := run.Status.Final()
	outputs := []string{}
	if final {
		outputs = searchTerms(nil, run) // the steps' outputs join the event's terms
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		// The NOTIFY rides on the update: sent only when a row changed,
		// delivered only once the transaction commits.
		var origin *int64
		err := tx.QueryRow(ctx, `WITH u AS (UPDATE sy_runs SET status = $2, final = $3, due_ns = $4, summary = $5, data = $6,
				terms = CASE WHEN cardinality($9::text[]) = 0 THEN terms ELSE ARRAY(SELECT DISTINCT t FROM unnest(terms || $9::text[]) t) END
				WHERE seq = $1 AND NOT final RETURNING COALESCE(retry_of, replay_of) AS origin)
			SELECT origin FROM u, pg_notify($7, $8)`,
			seq, string(run.Status), final, dueNanos(run), sumData, data, notifyChannel, s.noticeOf(run), outputs).Scan(&origin)
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sy_runs WHERE seq = $1)`, seq).Scan(&exists); err != nil {
				return err
			}
			if exists {
				return engine.ErrRunFinal
			}
			return engine.ErrNotFound
		}
		if err != nil {
			return err
		}
		if run.Status == engine.RunSucceeded && origin != nil {
			return resolveChain(ctx, tx, *origin, seq)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save run %s: %w", run.ID, unavailable(err))
	}
	return nil
}

// Run implements engine.RunStore.
func (s *Store) Run(ctx context.Context, id string) (*engine.Run, error) {
	seq, err := parseID(runIDPrefix, id)
	if err != nil {
		return nil, fmt.Errorf("store: run: %w", err)
	}
	var data []byte
	if err := s.pool.QueryRow(ctx, `SELECT data FROM sy_runs WHERE seq = $1`, seq).Scan(&data); err != nil {
		return nil, fmt.Errorf("store: run %s: %w", id, unavailable(notFound(err)))
	}
	r := &engine.Run{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("store: run %s: %w", id, err)
	}
	if r.Steps == nil {
		r.Steps = []engine.StepResult{}
	}
	return r, nil
}

// Event implements engine.RunStore.
func (s *Store) Event(ctx context.Context, id string) (*engine.Event, error) {
	seq, err := parseID(eventIDPrefix, id)
	if err != nil {
		return nil, fmt.Errorf("store: event: %w", err)
	}
	var data []byte
	if err := s.pool.QueryRow(ctx, `SELECT data FROM sy_events WHERE seq = $1`, seq).Scan(&data); err != nil {
		return nil, fmt.Errorf("store: event %s: %w", id, unavailable(notFound(err)))
	}
	e := &engine.Event{}
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("store: event %s: %w", id, err)
	}
	return e, nil
}

// pageLimit is the limit of a listing: 50 by default, at most 500.
func pageLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 500)
}

// listSummaries runs a listing query whose last two parameters are the
// cursor and limit+1, and makes the page.
func (s *Store) listSummaries(ctx context.Context, f engine.RunFilter, where string, args ...any) (engine.RunPage, error) {
	limit := pageLimit(f.Limit)
	var cursor int64
	if f.Cursor != "" {
		c, err := parseID(runIDPrefix, f.Cursor)
		if err != nil {
			return engine.RunPage{}, fmt.Errorf("cursor: %w", err)
		}
		cursor = c
	}
	n := len(args)
	args = append(args, f.FlowID, nanos(f.Since), nanos(f.Until), cursor, limit+1)
	q := fmt.Sprintf(`SELECT summary FROM sy_runs WHERE %s
		AND ($%d::text = '' OR flow_id = $%d) AND ($%d::bigint = 0 OR created_ns >= $%d) AND ($%d::bigint = 0 OR created_ns < $%d)
		AND ($%d::bigint = 0 OR seq < $%d)
		ORDER BY seq DESC LIMIT $%d`, where, n+1, n+1, n+2, n+2, n+3, n+3, n+4, n+4, n+5)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return engine.RunPage{}, unavailable(err)
	}
	page := engine.RunPage{Runs: []engine.RunSummary{}}
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return engine.RunPage{}, err
		}
		var sum engine.RunSummary
		if err := json.Unmarshal(data, &sum); err != nil {
			continue // a damaged summary: skip rather than fail a listing
		}
		page.Runs = append(page.Runs, sum)
	}
	if err := rows.Err(); err != nil {
		return engine.RunPage{}, unavailable(err)
	}
	if len(page.Runs) > limit {
		page.Runs = page.Runs[:limit]
		page.NextCursor = page.Runs[limit-1].ID
	}
	return page, nil
}

// ListRuns implements engine.RunStore.
func (s *Store) ListRuns(ctx context.Context, f engine.RunFilter) (engine.RunPage, error) {
	page, err := s.listSummaries(ctx, f, `($1::text = '' OR status = $1)`, string(f.Status))
	if err != nil {
		return engine.RunPage{}, fmt.Errorf("store: list runs: %w", err)
	}
	return page, nil
}

// SearchRuns implements engine.RunSearcher: the runs whose terms hold
// every term of the query, through the GIN index on terms, with the
// listing's filters and cursor.
func (s *Store) SearchRuns(ctx context.Context, f engine.RunFilter) (engine.RunPage, error) {
	terms, err := engine.ParseSearch(f.Search)
	if err != nil {
		return engine.RunPage{}, err
	}
	page, err := s.listSummaries(ctx, f, `($1::text = '' OR status = $1) AND terms @> $2::text[]`, string(f.Status), terms)
	if err != nil {
		return engine.RunPage{}, fmt.Errorf("store: search runs: %w", err)
	}
	return page, nil
}

// CountRuns implements engine.RunCounter.
func (s *Store) CountRuns(ctx context.Context, flowID string, since time.Time, max int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM sy_runs WHERE flow_id = $1 AND created_ns >= $2 LIMIT $3) c`,
		flowID, nanos(since), max).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count runs of %q: %w", flowID, unavailable(err))
	}
	return n, nil
}

// Pending implements engine.RunStore.
func (s *Store) Pending(ctx context.Context) ([]engine.QueueItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, due_ns FROM sy_runs WHERE NOT final ORDER BY due_ns, seq`)
	if err != nil {
		return nil, fmt.Errorf("store: pending runs: %w", unavailable(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (engine.QueueItem, error) {
		var seq, due int64
		err := row.Scan(&seq, &due)
		return engine.QueueItem{RunID: formatID(runIDPrefix, seq), Due: fromNanos(due)}, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: pending runs: %w", unavailable(err))
	}
	return out, nil
}

// PurgeDedupe implements engine.RunStore.
func (s *Store) PurgeDedupe(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sy_dedupe WHERE expires_ns <= $1`, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("store: purge dedupe: %w", unavailable(err))
	}
	return int(tag.RowsAffected()), nil
}

// DeleteRunsBefore implements engine.RunStore: the oldest final runs
// created before t, and the events no run points at any more.
func (s *Store) DeleteRunsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	var n int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM sy_runs WHERE seq IN (
			SELECT seq FROM sy_runs WHERE final AND created_ns < $1 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
			RETURNING event_seq`, nanos(t), limit)
		if err != nil {
			return err
		}
		events, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		n = len(events)
		if n == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `DELETE FROM sy_events e WHERE e.seq = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM sy_runs r WHERE r.event_seq = e.seq)`, events)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete old runs: %w", unavailable(err))
	}
	return n, nil
}

var (
	_ engine.RunStore    = (*Store)(nil)
	_ engine.RunCounter  = (*Store)(nil)
	_ engine.RunSearcher = (*Store)(nil)
)
